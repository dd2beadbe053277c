"""The README's seed walkthrough runs exactly as written, and tells the story it claims; its last step (the
PyTorch layer) runs where torch is installed."""

import re
import shutil
import subprocess
import sys

import pytest

from helpers import REPO, subprocess_env


def walkthrough(marker: str = "walkthrough", language: str = "sh") -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", text, flags=re.DOTALL)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def test_the_seed_walkthrough_runs_as_written(shell, tmp_path):
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    script = 'set -e\nroialign() { $ROIALIGN "$@"; }\n' + walkthrough()
    result = shell(script)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "look like relative boxes" in err  # step 1 warns
    assert "naive: differs" in out and "converted: still differs" in out
    assert "Best: caffe-ssd-roialign matches" in out
    assert "Your setting" in out and "+1 to box sizes" in out
    assert out.rstrip().endswith("same as Caffe")


def test_the_walkthrough_ends_with_a_train_ready_torch_layer(tmp_path):
    pytest.importorskip("torch")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    step = walkthrough("walkthrough-torch", "python")
    result = subprocess.run([sys.executable, "-c", step], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "train-ready, same as Caffe"
