"""torch stays optional: only roialign_cli.torch imports it, and without it that import says how to get it."""

import subprocess
import sys

from helpers import subprocess_env

BLOCK_TORCH = "import sys; sys.modules['torch'] = None\n"  # makes `import torch` fail as if it were not installed


def _run(code: str):
    command = [sys.executable, "-c", BLOCK_TORCH + code]
    return subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, check=False)


def test_the_layer_without_torch_names_the_extra():
    result = _run("import roialign_cli.torch")
    assert result.returncode != 0
    assert (
        "ModuleNotFoundError: roialign_cli.torch needs PyTorch, which is not installed: "
        "pip install 'roialign-cli[torch]'" in result.stderr
    )


def test_everything_else_works_without_torch():
    code = (
        "import numpy as np\nfrom roialign_cli import roi_align, roi_align_backward\n"
        "f = np.ones((1, 1, 4, 4)); r = np.array([[0, 0, 0, 2, 2.0]])\n"
        "roi_align(f, r, 2, backend='numpy'); roi_align_backward(np.ones((1, 1, 2, 2)), r, f.shape, backend='numpy')\n"
        "from roialign_cli.cli import main\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
