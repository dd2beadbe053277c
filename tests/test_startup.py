"""`roialign --help` and `roialign presets` start without NumPy, SciPy, CuPy or matplotlib.

Each runs the click group in a fresh interpreter and lists the heavy modules it left in sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO, subprocess_env

HEAVY = ("numpy", "scipy", "cupy", "matplotlib")

PROBE = """
import contextlib, io, json, sys
from roialign_cli.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main({args!r}, standalone_mode=False)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def heavy_modules_after(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args), heavy=HEAVY)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_numpy_scipy_or_cupy():
    assert heavy_modules_after("--help") == []


def test_the_drawing_commands_help_imports_nothing_heavy():
    # matplotlib (and NumPy) load only when a picture is drawn
    assert heavy_modules_after("show", "--help") == []


def test_presets_imports_no_numpy_scipy_or_cupy():
    from roialign_cli.cli import main

    if "presets" not in main.list_commands(None):
        pytest.skip("the presets command is not registered in this checkout")
    assert heavy_modules_after("presets") == []


def test_a_command_imports_no_other_commands_module():
    """The group imports a command's module only when that command runs (start-up is the user's time)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=["presets"], heavy=("roialign_cli",))],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "roialign_cli.cli.presets" in loaded
    assert not loaded & {f"roialign_cli.cli.{name}" for name in ("pool", "convert", "diff", "explain", "onnx", "show")}


def test_the_probe_sees_numpy_when_a_command_needs_it(tmp_path):
    """A control: the probe reports NumPy after a real `pool` run, so the empty lists above mean something."""
    samples = REPO / "samples"
    args = (
        "pool",
        str(samples / "features.npy"),
        str(samples / "detections.npy"),
        "--image-size",
        "576x192",
        "--spatial-scale",
        "1/8",
        "--backend",
        "numpy",
        "-o",
        str(tmp_path / "pooled.npy"),
    )
    assert "numpy" in heavy_modules_after(*args)
