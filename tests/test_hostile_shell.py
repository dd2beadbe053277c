"""Hostile situations that only a real process meets: closed pipes, signals, the umask, another
user's permissions, a full disk, devices, FIFOs, /dev/stdout and pipes that cannot seek."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import subprocess_env
from hostile_files import listing, make_corpus

ROIALIGN = [sys.executable, "-m", "roialign_cli"]


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


def run(args, cwd, **kwargs):
    return subprocess.run(
        [*ROIALIGN, *map(str, args)], cwd=cwd, env=subprocess_env(), check=False, capture_output=True, **kwargs
    )


def bash(script: str, cwd):
    env = subprocess_env()
    env["ROIALIGN"] = " ".join(ROIALIGN)
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=cwd, env=env, check=False, capture_output=True, text=True
    )


def one_line(stderr) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# ---------------------------------------------------------------- pipes


def test_a_closed_pipe_ends_quietly_and_not_with_success(corpus):
    np.save(corpus / "wide.npy", np.zeros((2, 256, 24, 32), np.float32))  # 150 KB out: more than a pipe holds
    result = bash(
        '$ROIALIGN pool wide.npy r.npy --backend numpy -o - | head -c 10 > /dev/null; echo "status ${PIPESTATUS[0]}"',
        corpus,
    )
    status = int(result.stdout.split()[-1])
    assert status in (1, 128 + signal.SIGPIPE), result.stderr
    assert "Traceback" not in result.stderr and "roialign pool" not in result.stderr  # no summary after the loss


def test_a_pipe_that_cannot_seek_is_read_whole(corpus):
    result = bash("$ROIALIGN pool <(cat f.npy) <(cat r.npy) --backend numpy -o out.npy", corpus)
    assert result.returncode == 0, result.stderr
    from roialign_cli import roi_align

    expected = roi_align(np.load(corpus / "f.npy"), np.load(corpus / "r.npy"), backend="numpy")
    np.testing.assert_array_equal(np.load(corpus / "out.npy"), expected)


@pytest.mark.parametrize(
    "source, message",
    [
        ("cat lying.npy", "claims 40000000000000 bytes"),
        ("cat code.npy", "damaged .npy header"),
        ("cat pickle.npy", "pickled"),
        ("cat f_trunc.npy", "truncated or damaged"),
        ("cat f_crc.npz", "Bad CRC-32"),
        ("cat empty.npy", "is empty"),
        ("head -c 100000 /dev/zero", "not a .npy or .npz file"),
    ],
)
def test_a_hostile_pipe_is_one_line(corpus, source, message):
    result = bash(f"$ROIALIGN pool <({source}) r.npy --backend numpy -o out.npy", corpus)
    assert result.returncode == 2 and message in one_line(result.stderr)
    result = bash(f"{source} | $ROIALIGN pool - r.npy --backend numpy -o out.npy", corpus)
    assert result.returncode == 2 and message in one_line(result.stderr)
    assert not (corpus / "out.npy").exists()


def test_an_array_followed_by_endless_data_is_read_alone(corpus):
    result = bash(
        "set +o pipefail; (cat f.npy; cat /dev/zero) | $ROIALIGN pool - r.npy --backend numpy -o out.npy", corpus
    )
    assert result.returncode == 0, result.stderr
    assert np.load(corpus / "out.npy").shape == (3, 4, 7, 7)


def test_dev_stdout_is_written_into_not_replaced(corpus):
    before = os.lstat("/dev/stdout")
    result = bash("$ROIALIGN pool f.npy r.npy --backend numpy -o /dev/stdout > got.npy", corpus)
    assert result.returncode == 0, result.stderr
    assert np.load(corpus / "got.npy").shape == (3, 4, 7, 7)
    assert stat.S_ISLNK(os.lstat("/dev/stdout").st_mode) == stat.S_ISLNK(before.st_mode)


def test_a_fifo_is_written_into(corpus):
    fifo = corpus / "pipe"
    os.mkfifo(fifo)
    result = bash("cat pipe > got.npy & $ROIALIGN pool f.npy r.npy --backend numpy -o pipe; wait", corpus)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert np.load(corpus / "got.npy").shape == (3, 4, 7, 7)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_character_device_stays_a_device(corpus):
    device = corpus / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null
    result = run(["pool", "f.npy", "r.npy", "--backend", "numpy", "-o", device], corpus)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(device).st_mode)


# ---------------------------------------------------------------- signals

SLOW_WRITER = """
import sys, time
import numpy as np
real_save = np.save
def slow_save(f, array, **kwargs):
    real_save(f, array, **kwargs)
    f.flush()
    open("ready", "w").close()
    time.sleep(60)
np.save = slow_save
from roialign_cli.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_the_output_is_staged_leaves_nothing(corpus, signum, status):
    before = listing(corpus)
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, "pool", "f.npy", "r.npy", "--backend", "numpy", "-o", "out.npy"],
        cwd=corpus,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (corpus / "ready").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    assert any(name.endswith(".partial") for name in listing(corpus))  # the staged output exists now
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert b"Traceback" not in stderr
    assert listing(corpus) - {"ready"} == before  # no out.npy, no .out.npy.*.partial


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_outputs_take_the_umask(corpus, umask, mode):
    result = bash(f"umask {umask:03o}; $ROIALIGN pool f.npy r.npy --backend numpy -o out.npy", corpus)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(corpus / "out.npy").st_mode) == mode


def test_an_overwritten_output_keeps_its_mode(corpus):
    (corpus / "out.npy").write_bytes(b"old")
    os.chmod(corpus / "out.npy", 0o640)
    result = bash("umask 077; $ROIALIGN pool f.npy r.npy --backend numpy -o out.npy", corpus)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(corpus / "out.npy").st_mode) == 0o640
    assert np.load(corpus / "out.npy").shape == (3, 4, 7, 7)


def _as_other_user():
    """The command prefix that runs as an unprivileged user, or a reason to skip."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot become another user")
    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true"], check=False, capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot switch user here: {probe.stderr.decode().strip()}")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def user_dir():
    """A world-readable directory outside pytest's private tmp, for a run as another user."""
    prefix = _as_other_user()
    path = Path(tempfile.mkdtemp(prefix="roialign-hostile-"))
    os.chmod(path, 0o755)
    make_corpus(path)
    for entry in path.rglob("*"):
        os.chmod(entry, 0o755 if entry.is_dir() else 0o644)
    yield prefix, path
    shutil.rmtree(path)


def run_as(prefix, args, cwd):
    env = subprocess_env()
    env["HOME"] = str(cwd)
    return subprocess.run([*prefix, *ROIALIGN, *map(str, args)], cwd=cwd, env=env, check=False, capture_output=True)


def test_other_user_unreadable_input(user_dir):
    prefix, path = user_dir
    os.chmod(path / "f.npy", 0)
    result = run_as(prefix, ["pool", "f.npy", "r.npy", "-o", "/dev/null"], path)
    assert result.returncode == 2 and "permission denied" in one_line(result.stderr).lower()


def test_other_user_read_only_directory(user_dir):
    prefix, path = user_dir
    result = run_as(prefix, ["pool", "f.npy", "r.npy", "-o", path / "out.npy"], path)
    assert result.returncode == 2 and "not writable" in one_line(result.stderr)
    assert not (path / "out.npy").exists()


def test_other_user_writes_into_dev_null(user_dir):
    prefix, path = user_dir
    result = run_as(prefix, ["pool", "f.npy", "r.npy", "--backend", "numpy", "-o", "/dev/null"], path)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_other_user_two_outputs_land_together_or_not_at_all(user_dir):
    prefix, path = user_dir
    mine = path / "mine"
    mine.mkdir()
    if os.geteuid() == 0:
        os.chown(mine, 65534, 65534)
    locked = path / "locked"
    locked.mkdir(mode=0o555)
    result = run_as(
        prefix,
        [
            "convert",
            "boxes",
            "r.npy",
            "--from",
            "rois5",
            "--to",
            "xyxy",
            "-o",
            mine / "o.npy",
            "--batch-out",
            locked / "b.npy",
        ],
        path,
    )
    assert result.returncode == 2 and "not writable" in one_line(result.stderr)
    assert listing(mine) == set()


def test_other_user_existing_writable_file_in_a_locked_directory(user_dir):
    """The temporary file cannot go beside the target: the output is staged elsewhere and written into it."""
    prefix, path = user_dir
    locked = path / "locked"
    locked.mkdir(mode=0o755)
    (locked / "out.npy").write_bytes(b"old")
    os.chmod(locked / "out.npy", 0o666)
    result = run_as(prefix, ["pool", "f.npy", "r.npy", "--backend", "numpy", "-o", locked / "out.npy"], path)
    assert result.returncode == 0, result.stderr
    assert np.load(locked / "out.npy").shape == (3, 4, 7, 7)


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], check=False, capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_leaves_nothing(corpus, small_disk):
    np.save(corpus / "wide.npy", np.zeros((2, 256, 24, 32), np.float32))  # 150 KB out, on a 64 KB disk
    result = run(["pool", "wide.npy", "r.npy", "--backend", "numpy", "-o", small_disk / "out.npy"], corpus)
    assert result.returncode == 2
    assert "no space left on device" in one_line(result.stderr)
    assert listing(small_disk) == set()
