"""Helper functions the tests share (the fixtures are in conftest.py): the checkout, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def subprocess_env() -> dict:
    """The environment for a subprocess that imports roialign_cli from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def roialign_command() -> str:
    """The CLI as a shell word, runnable from this checkout whether or not it is installed."""
    return f"{sys.executable} -m roialign_cli"


def strict_json(text: str):
    """Parse `text`, refusing the NaN and Infinity tokens that json.dumps writes by default."""

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)
