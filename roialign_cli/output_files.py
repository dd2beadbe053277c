"""Putting a command's outputs in place: all of them or none, with the user's permissions.

Every output is first staged in full: a regular file as a hidden temporary file beside it (renamed
into place at the end, so a reader never sees half a file), stdout, a device, a FIFO or a
`/dev/...` or `/proc/...` path in a spool (written into the target at the end: replacing
`/dev/null` or a FIFO by a regular file would be wrong). Only when every output is staged are
they put in place; a failure or a signal (SIGINT, and SIGTERM through `sigterm_raises`) removes
whatever was staged. New files get the mode the umask gives (as `open` would); an existing file
keeps its mode and owner. Nothing here imports NumPy.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from .errors import InputError

STDIO = "-"
SPOOL_BYTES = 16 << 20  # a spool larger than this moves from memory to a temporary file
COPY_BYTES = 1 << 20
SPECIAL_ROOTS = ("/dev/", "/proc/")

Writer = Callable[[BinaryIO], None]


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt, so that staged outputs are removed."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises `Terminated` (where nobody else handles SIGTERM)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def describe_os_error(path: str, exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EISDIR: "it is a directory",
    }
    if exc.errno is None and _disk_full(path):  # NumPy's tofile reports a short write without errno
        return f"cannot write {path}: no space left on device"
    return f"cannot write {path}: {reasons.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)}"


def _disk_full(path: str) -> bool:
    try:
        disk = os.statvfs(os.path.dirname(os.path.realpath(path)) or ".")
    except OSError:
        return False
    return disk.f_bavail * disk.f_frsize < COPY_BYTES


def is_stdout(path: str) -> bool:
    """`-`, or a path naming the file this process's stdout is (`/dev/stdout`, `/dev/fd/1`, a redirect):
    written through sys.stdout, so that it and anything printed after it keep their order."""
    if path == STDIO:
        return True
    try:
        mine, theirs = os.fstat(sys.stdout.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):  # no such path, or stdout is no file (tests)
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def writes_into(path: str) -> bool:
    """Whether `path` is written into rather than replaced: a device, FIFO or socket, or a /dev or /proc path."""
    if os.path.abspath(path).startswith(SPECIAL_ROOTS) or os.path.realpath(path).startswith(SPECIAL_ROOTS):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path)
    except OSError:
        return False


def check_target(path: str) -> None:
    """Refuse, before any work, an output that cannot be written: empty, a directory, no directory,
    or neither the directory nor the existing file writable."""
    if path == "":
        raise InputError("the output path is empty; give -o FILE or -o - for stdout")
    if path == STDIO:
        return
    if os.path.isdir(path):
        raise InputError(f"output {path} is a directory; name a file in it")
    if writes_into(path):
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")
        return
    real = os.path.realpath(path)
    parent = os.path.dirname(real)
    if not os.path.isdir(parent):
        raise InputError(f"output directory does not exist: {parent}")
    if len(os.fsencode(os.path.basename(real))) > os.pathconf(parent, "PC_NAME_MAX"):
        raise InputError(f"cannot write {path}: file name too long")
    exists = os.path.exists(real)
    if exists and not os.access(real, os.W_OK):
        raise InputError(f"cannot write {path}: the file is read-only")
    if not os.access(parent, os.W_OK | os.X_OK) and not exists:
        raise InputError(f"cannot write {path}: the directory {parent} is not writable")


def write_all(outputs: list[tuple[str, Writer]]) -> None:
    """Stage every (path, writer) pair, then put them all in place; on failure none is left behind.

    OSErrors (disk full, permissions) become one-line `InputError`s.
    """
    staged: list[_Staged] = []
    try:
        with sigterm_raises():
            for path, write in outputs:
                staged.append(_stage(path, write))
            # renames first: they hardly fail, while a closed stdout or a device may
            for item in sorted(staged, key=lambda s: not isinstance(s, _Renamed)):
                try:
                    item.commit()
                except OSError as exc:
                    exc.roialign_path = item.path
                    raise
    except OSError as exc:
        _discard(staged)
        if isinstance(exc, BrokenPipeError):
            raise
        raise InputError(
            describe_os_error(getattr(exc, "roialign_path", None) or exc.filename or "output", exc)
        ) from None
    except BaseException:
        _discard(staged)
        raise


def _discard(staged) -> None:
    for item in staged:
        item.discard()


def _stage(path: str, write: Writer) -> _Staged:
    check_target(path)
    try:
        if is_stdout(path):
            return _Spooled(path, write, None)
        if writes_into(path):
            return _Spooled(path, write, path)
        target = os.path.realpath(path)  # a symlink keeps pointing at the new file
        if not os.access(os.path.dirname(target), os.W_OK | os.X_OK):
            return _Spooled(path, write, target)  # an existing writable file in a locked directory
        return _Renamed.stage(path, target, write)
    except OSError as exc:
        exc.roialign_path = path
        raise


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class _Staged:
    path: str  # as the user named it, for messages

    def commit(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


@dataclass
class _Renamed(_Staged):
    """A temporary file beside the real target, renamed onto it."""

    tmp: str
    target: str
    path: str
    committed: bool = False

    @classmethod
    def stage(cls, path: str, target: str, write: Writer) -> _Renamed:
        parent, name = os.path.split(target)
        # a name near the 255-byte limit must not make its temporary name too long
        fd, tmp = _create_beside(parent, name)
        staged = cls(tmp, target, path)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                _take_permissions(f.fileno(), target)
        except BaseException:
            staged.discard()
            raise
        return staged

    def commit(self) -> None:
        os.replace(self.tmp, self.target)
        self.committed = True

    def discard(self) -> None:
        if not self.committed:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass


def _create_beside(parent: str, name: str) -> tuple[int, str]:
    """A new, private file `.NAME.RANDOM.partial` in `parent`, as tempfile.mkstemp makes it (tempfile's
    import would weigh on every start that writes a file); a name near the 255-byte limit is cut."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(parent, f".{name[:160]}.{os.urandom(6).hex()}.partial")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", os.path.join(parent, f".{name[:160]}.*.partial"))


def _take_permissions(fd: int, target: str) -> None:
    try:
        st = os.stat(target)
    except FileNotFoundError:
        os.fchmod(fd, _new_file_mode())
        return
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except PermissionError:  # only root may give a file away; the mode is kept anyway
            pass


class _Spooled(_Staged):
    """The whole output in a spool (memory, or a temporary file when large), copied into the target
    (stdout when `target` is None) at the end."""

    def __init__(self, path: str, write: Writer, target: str | None):
        self.path, self.target = path, target
        import tempfile

        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by commit/discard)
        try:
            write(self.spool)
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        self.spool.seek(0)
        if self.target is None:
            sys.stdout.flush()
            _copy(self.spool, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with open(self.target, "wb") as out:
                _copy(self.spool, out)
        self.discard()

    def discard(self) -> None:
        self.spool.close()


def _copy(source, out) -> None:
    while chunk := source.read(COPY_BYTES):
        write_fully(out, chunk)


def write_fully(stream, data) -> None:
    """Write all of `data`: a pipe whose reader went away may take part of a write without an error,
    and only the next write says so (BrokenPipeError)."""
    view = memoryview(data)
    while len(view):
        written = stream.write(view)
        if written is None:  # a text-mode or unbuffered wrapper that wrote it all
            return
        if written == 0:
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")
        view = view[written:]
