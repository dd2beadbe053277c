"""The README's seed walkthrough runs exactly as written, and tells the story it claims."""

import re
import shutil

from helpers import REPO


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no walkthrough block"
    return match.group(1)


def test_the_seed_walkthrough_runs_as_written(shell, tmp_path):
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    script = "set -e\nroialign() { $ROIALIGN \"$@\"; }\n" + walkthrough()
    result = shell(script)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "look like relative boxes" in err  # step 1 warns
    assert "naive: differs" in out and "converted: still differs" in out
    assert "Best: caffe-ssd-roialign matches" in out
    assert "Your setting" in out and "+1 to box sizes" in out
    assert out.rstrip().endswith("same as Caffe")
