"""Shared fixtures: the CLI in-process (CliRunner) and as a real subprocess (pipes); helpers.py has the functions."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import roialign_command, subprocess_env


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def cli():
    """Invoke `roialign ARGS...` in-process; returns click's Result (stdout and stderr apart)."""
    from roialign_cli.cli import main

    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def shell(tmp_path):
    """Run a shell pipeline in tmp_path with `roialign` available as $ROIALIGN."""

    def run(script: str, check: bool = False):
        env = subprocess_env()
        env["ROIALIGN"] = roialign_command()
        result = subprocess.run(["bash", "-o", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True)
        if check and result.returncode != 0:
            raise AssertionError(f"exit {result.returncode}\n{result.stderr.decode()}")
        return result

    return run
