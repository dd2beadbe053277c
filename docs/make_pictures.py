"""Make the README's pictures from the shipped samples, with the commands the README shows.

    python docs/make_pictures.py            # writes docs/seed-box.png and docs/naive-vs-caffe.png
    python docs/make_pictures.py --out DIR  # somewhere else (the tests do)

The commands run in a scratch directory that links `samples/`, so that the pictures' titles name the
files as the README's walkthrough does. Needs matplotlib (`pip install -e ".[plot]"`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (picture, the commands that make it; PICTURE stands for the picture's path)
PICTURES = {
    "seed-box.png": [
        "show samples/detections.npy --roi 0 --features samples/features.npy --image-size 576x192 "
        "--spatial-scale 1/8 --preset torchvision --vs caffe-ssd-roialign --sample 6,6,0,0 --width 1000 -o PICTURE",
    ],
    "naive-vs-caffe.png": [
        "pool samples/features.npy samples/detections.npy --spatial-scale 1/8 -o naive.npy",
        "diff naive.npy samples/reference.npy --plot PICTURE --quiet",
    ],
}
EXIT_OK = {"show": (0,), "pool": (0,), "diff": (0, 1)}  # diff's 1 says "they differ", which is the point


def roialign(words: list[str], cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "roialign_cli", *words], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode not in EXIT_OK[words[0]]:
        raise SystemExit(f"roialign {' '.join(words)} failed ({done.returncode}): {done.stderr.strip()}")


def make(out: Path) -> list[Path]:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "samples").symlink_to(REPO / "samples")
        for name, commands in PICTURES.items():
            for command in commands:
                words = command.split()
                roialign([str(out / name) if w == "PICTURE" else w for w in words], Path(scratch))
            made.append(out / name)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where to write the pictures")
    for path in make(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
