"""Reading and writing arrays safely: `.npy`, `file.npz:key`, and `-` for stdin/stdout.

Pickles are always refused; outputs are written atomically (temporary file + rename) and
never onto one of the inputs, so a failed run leaves no partial file and loses nothing.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError

STDIO = "-"


def _split_npz_key(spec: str) -> tuple[str, str | None]:
    # "features.npz:p3" names one array of an archive; a plain path may not end in .npz:KEY
    head, sep, key = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and key:
        return head, key
    return spec, None


def _read_stdin(expected: str = "a .npy array") -> io.BytesIO:
    # np.load needs a seekable file; a pipe is not one, so read it whole.
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError(f"stdin is empty: expected {expected}")
    return io.BytesIO(data)


NPY_MAGIC, NPZ_MAGIC, PICKLE_MAGIC = b"\x93NUMPY", b"PK\x03\x04", b"\x80"


def _sniff(source) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()[:6]
    with open(source, "rb") as f:
        return f.read(6)


def _check_magic(source, name: str) -> None:
    head = _sniff(source)
    if head.startswith(PICKLE_MAGIC):
        raise InputError(f"{name}: holds pickled Python objects; refusing to load it (only plain numeric .npy arrays)")
    if not (head.startswith(NPY_MAGIC) or head.startswith(NPZ_MAGIC)):
        raise InputError(f"{name}: not a .npy or .npz file")


def _describe_load_error(name: str, exc: Exception) -> str:
    text = str(exc)
    if "pickle" in text.lower():
        return f"{name}: holds pickled Python objects; refusing to load it (only plain numeric .npy arrays)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{name}: truncated or damaged .npy file ({first})"


def _load_from(source, name: str, key: str | None, mmap: bool) -> np.ndarray:
    _check_magic(source, name)
    try:
        loaded = np.load(source, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, EOFError, OSError) as exc:
        raise InputError(_describe_load_error(name, exc)) from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if key is None:
                if len(loaded.files) != 1:
                    raise InputError(f"{name}: an .npz archive holds {', '.join(loaded.files)}; name one as {name}:KEY")
                key = loaded.files[0]
            if key not in loaded.files:
                raise InputError(f"{name}: no array {key!r} in the archive (it holds {', '.join(loaded.files)})")
            try:
                return loaded[key]
            except (ValueError, EOFError, OSError) as exc:
                raise InputError(_describe_load_error(f"{name}:{key}", exc)) from None
    if key is not None:
        raise InputError(f"{name}: is a .npy file, not an .npz archive; drop ':{key}'")
    return loaded


def load_array(spec: str, what: str = "array", *, mmap: bool = False) -> np.ndarray:
    """Load `spec` (a path, `path.npz:key`, or `-` for stdin) with pickles refused.

    `mmap` maps plain `.npy` files read-only instead of reading them, for arrays larger than memory.
    """
    if spec == STDIO:
        return _load_from(_read_stdin(), f"{what} (stdin)", None, False)
    path, key = _split_npz_key(spec)
    _check_readable(path, what, "a .npy file")
    array = _load_from(path, path, key, mmap and key is None)
    if array.dtype.hasobject:
        raise InputError(f"{path}: holds Python objects; refusing to load it")
    return array


def load_npz(spec: str, what: str = "archive") -> dict[str, np.ndarray]:
    """Every array of an .npz archive (a path, or `-` for stdin), in the archive's order; pickles refused."""
    if spec == STDIO:
        source, name = _read_stdin("an .npz archive"), f"{what} (stdin)"
    else:
        _check_readable(spec, what, "an .npz archive")
        source, name = spec, spec
    try:
        loaded = np.load(source, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise InputError(_describe_load_error(name, exc)) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InputError(f"{name}: is a single .npy array, not an .npz archive of named arrays")
    with loaded:
        arrays = {}
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except (ValueError, EOFError, OSError) as exc:
                raise InputError(_describe_load_error(f"{name}:{key}", exc)) from None
    return arrays


def _check_readable(path: str, what: str, kind: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"{what}: {path} is a directory, not {kind}")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(out: str, inputs: list[str]) -> None:
    """Refuse an output that would overwrite an input, or binary data on a terminal."""
    if out == STDIO:
        if sys.stdout.isatty():
            raise InputError("refusing to write a binary .npy array to a terminal; pipe it or give -o FILE")
        return
    for spec in inputs:
        if spec != STDIO and os.path.exists(out) and _same_file(out, _split_npz_key(spec)[0]):
            raise InputError(f"output {out} is also an input; choose another output path")
    parent = Path(out).resolve().parent
    if not parent.is_dir():
        raise InputError(f"output directory does not exist: {parent}")


def save_array(out: str, array: np.ndarray, inputs: list[str] = ()) -> None:
    """Write `array` as .npy to `out` (`-`: stdout) atomically; never over one of `inputs`."""
    _save(out, lambda f: np.save(f, np.asarray(array), allow_pickle=False), inputs)


def save_npz(out: str, arrays: dict[str, np.ndarray], inputs: list[str] = ()) -> None:
    """Write named arrays as an .npz archive to `out` (`-`: stdout) atomically; never over one of `inputs`."""
    _save(out, lambda f: np.savez(f, **arrays), inputs)


def _save(out: str, write, inputs) -> None:
    check_output_path(out, list(inputs))
    if out == STDIO:
        buffer = io.BytesIO()
        write(buffer)
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
        return
    write_atomically(out, write)


def write_atomically(out: str, write) -> None:
    """Call `write(file)` on a temporary file beside `out`, then rename it into place."""
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.resolve().parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
