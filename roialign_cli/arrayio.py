"""Reading and writing arrays safely: `.npy`, `file.npz:key`, and `-` for stdin/stdout.

Pickles are always refused, and headers are checked against the file before any data is read;
outputs are never written onto one of the inputs and are put in place by `output_files`
(atomically, all of a command's outputs or none), so a failed run leaves no partial file and loses nothing.
"""

from __future__ import annotations

import io
import math
import os
import stat
import sys

import numpy as np

from . import output_files
from .errors import InputError
from .output_files import is_stdout  # the CLI asks it to know where its summary may go

STDIO = "-"


def _split_npz_key(spec: str) -> tuple[str, str | None]:
    # "features.npz:p3" names one array of an archive; a plain path may not end in .npz:KEY
    head, sep, key = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and key:
        return head, key
    return spec, None


NPY_MAGIC, NPZ_MAGIC, PICKLE_MAGIC = b"\x93NUMPY", b"PK\x03\x04", b"\x80"


def _read_stream(stream, name: str, source: str, expected: str) -> io.BytesIO:
    """A pipe or device read whole, as np.load needs a seekable file; what does not start like a
    .npy, .npz or pickle is refused before reading on (`/dev/zero` never ends)."""
    head = stream.read(6)
    if not head:
        raise InputError(f"{source} is empty: expected {expected}")
    if not head.startswith((NPY_MAGIC, NPZ_MAGIC, PICKLE_MAGIC)):
        raise InputError(f"{name}: not a .npy or .npz file")
    if head.startswith(NPY_MAGIC):
        return io.BytesIO(_read_npy_stream(stream, head, name))
    return io.BytesIO(head + stream.read())


def _read_up_to(stream, size: int, prefix: bytes) -> tuple[bytes, int]:
    """`prefix` and then at most `size` bytes of the stream, read in blocks (a lying header must not
    make one huge allocation), joined once; and how many bytes came."""
    parts, got = [prefix], 0
    while got < size and (part := stream.read(min(size - got, 1 << 24))):
        parts.append(part)
        got += len(part)
    return b"".join(parts), got


def _read_npy_stream(stream, head: bytes, name: str) -> bytes:
    """Exactly one .npy array from a stream, whatever follows it: the header says how long the data is."""
    version = stream.read(2)
    length_bytes = stream.read(2 if version[:1] == b"\x01" else 4)
    length = int.from_bytes(length_bytes, "little")
    if length > NPY_MAX_HEADER:
        raise InputError(f"{name}: damaged .npy header (it claims {length} bytes)")
    prefix = head + version + length_bytes + stream.read(length)
    needed = check_npy_header(io.BytesIO(prefix), math.inf, name)
    whole, got = _read_up_to(stream, needed, prefix)
    if got < needed:
        raise InputError(
            f"{name}: truncated or damaged .npy file (the header claims {needed} bytes of data, the stream held {got})"
        )
    return whole


NPY_MAX_HEADER = 10000  # np.load's own limit on a header's size


def damaged_errors() -> tuple[type[BaseException], ...]:
    """What np.load raises on a damaged file or archive (zlib: a damaged compressed member). Built when
    an error is caught, so that reading a plain .npy never imports zipfile."""
    import zipfile
    import zlib

    return (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError, KeyError)


def _open_source(path: str, what: str, kind: str):
    """A path np.load can read: a regular file as it is; a pipe or a device (`<(cat f.npy)`) read
    whole first, since np.load must seek and a first look at its magic would consume it."""
    if not os.path.exists(path):
        raise InputError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"{what}: {path} is a directory, not {kind}")
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            with open(path, "rb"):
                return path
        with open(path, "rb") as f:
            return _read_stream(f, path, path, kind)
    except OSError as exc:
        raise InputError(f"{what}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None


def _sniff(source) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()[:6]
    with open(source, "rb") as f:
        return f.read(6)


def _size(source) -> int:
    return len(source.getvalue()) if isinstance(source, io.BytesIO) else os.path.getsize(source)


def _check_magic(source, name: str) -> None:
    head = _sniff(source)
    if head.startswith(PICKLE_MAGIC):
        raise InputError(f"{name}: holds pickled Python objects; refusing to load it (only plain numeric .npy arrays)")
    if not head.startswith((NPY_MAGIC, NPZ_MAGIC)):
        raise InputError(f"{name}: not a .npy or .npz file")


def _describe_load_error(name: str, exc: Exception) -> str:
    text = str(exc)
    if "pickle" in text.lower():
        return f"{name}: holds pickled Python objects; refusing to load it (only plain numeric .npy arrays)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{name}: truncated or damaged .npy file ({first})"


def check_npy_header(f, available: float, name: str) -> int:
    """Read a .npy header from `f` and refuse it unless it is a plain dictionary naming a dtype
    without Python objects and a shape whose data fits in the `available` bytes of the file: a
    500-byte file claiming 10^13 elements is damaged, not too large for memory. Returns the data's size in bytes."""
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(f)
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, EOFError, OSError, TypeError, SyntaxError):
        raise InputError(
            f"{name}: damaged .npy header (not a plain dictionary of descr, fortran_order and shape)"
        ) from None
    if dtype.hasobject:
        raise InputError(f"{name}: holds pickled Python objects; refusing to load it (only plain numeric .npy arrays)")
    needed = math.prod(shape) * dtype.itemsize
    if needed > available - f.tell():
        raise InputError(
            f"{name}: truncated or damaged .npy file (its header claims shape {list(shape)} {dtype}, "
            f"{needed} bytes, but the file holds {max(available - f.tell(), 0)})"
        )
    return needed


def _check_npy(source, name: str) -> None:
    if isinstance(source, io.BytesIO):
        check_npy_header(source, _size(source), name)
        source.seek(0)
        return
    with open(source, "rb") as f:
        check_npy_header(f, _size(source), name)


def _member(archive, key: str, name: str) -> np.ndarray:
    """One array of an open archive, its header checked against the member's size first."""
    try:
        members = archive.zip.namelist()
        info = archive.zip.getinfo(f"{key}.npy" if f"{key}.npy" in members else key)
        with archive.zip.open(info) as f:
            check_npy_header(f, info.file_size, f"{name}:{key}")
        return archive[key]
    except InputError:  # already says what is wrong (and is a ValueError, like the damage below)
        raise
    except damaged_errors() as exc:
        raise InputError(_describe_load_error(f"{name}:{key}", exc)) from None


def _open_npz_or_npy(source, name: str, mmap: bool):
    _check_magic(source, name)
    if _sniff(source).startswith(NPY_MAGIC):
        _check_npy(source, name)
    try:
        return np.load(source, allow_pickle=False, mmap_mode="r" if mmap else None)
    except damaged_errors() as exc:
        raise InputError(_describe_load_error(name, exc)) from None


def _load_from(source, name: str, key: str | None, mmap: bool) -> np.ndarray:
    loaded = _open_npz_or_npy(source, name, mmap)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if key is None:
                if len(loaded.files) != 1:
                    raise InputError(f"{name}: an .npz archive holds {', '.join(loaded.files)}; name one as {name}:KEY")
                key = loaded.files[0]
            if key not in loaded.files:
                raise InputError(f"{name}: no array {key!r} in the archive (it holds {', '.join(loaded.files)})")
            return _member(loaded, key, name)
    if key is not None:
        raise InputError(f"{name}: is a .npy file, not an .npz archive; drop ':{key}'")
    return loaded


def native_byte_order(array: np.ndarray) -> np.ndarray:
    """`>f4` and friends as the same values in this machine's byte order (the engines read native data)."""
    if array.dtype.byteorder in ("=", "|") or array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


def load_array(spec: str, what: str = "array", *, mmap: bool = False) -> np.ndarray:
    """Load `spec` (a path, `path.npz:key`, or `-` for stdin) with pickles refused, in native byte order.

    `mmap` maps plain `.npy` files read-only instead of reading them, for arrays larger than memory
    (those keep their stored byte order: converting would read them whole).
    """
    if spec == STDIO:
        source = _read_stream(sys.stdin.buffer, f"{what} (stdin)", "stdin", "a .npy array")
        return native_byte_order(_load_from(source, f"{what} (stdin)", None, False))
    path, key = _split_npz_key(spec)
    source = _open_source(path, what, "a .npy file")
    array = _load_from(source, path, key, mmap and key is None and isinstance(source, str))
    if array.dtype.hasobject:
        raise InputError(f"{path}: holds Python objects; refusing to load it")
    return array if isinstance(array, np.memmap) else native_byte_order(array)


def load_npz(spec: str, what: str = "archive") -> dict[str, np.ndarray]:
    """Every array of an .npz archive (a path, or `-` for stdin), in the archive's order; pickles refused."""
    if spec == STDIO:
        name = f"{what} (stdin)"
        source = _read_stream(sys.stdin.buffer, name, "stdin", "an .npz archive")
    else:
        source, name = _open_source(spec, what, "an .npz archive"), spec
    loaded = _open_npz_or_npy(source, name, False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InputError(f"{name}: is a single .npy array, not an .npz archive of named arrays")
    with loaded:
        return {key: native_byte_order(_member(loaded, key, name)) for key in loaded.files}


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(out: str, inputs: list[str]) -> None:
    """Refuse, before any work, an output that would overwrite an input, binary data on a terminal,
    or a path that cannot be written (see `output_files.check_target`)."""
    if is_stdout(out):
        if sys.stdout.isatty():
            raise InputError("refusing to write a binary .npy array to a terminal; pipe it or give -o FILE")
        return
    for spec in inputs:
        if spec != STDIO and out and os.path.exists(out) and _same_file(out, _split_npz_key(spec)[0]):
            raise InputError(f"output {out} is also an input; choose another output path")
    output_files.check_target(out)


def _writer(data):
    """A function writing `data` to a file: a dict of named arrays as .npz, an array as .npy."""
    if isinstance(data, dict):
        return lambda f: np.savez(f, **data)
    return lambda f: np.save(f, np.asarray(data), allow_pickle=False)


def save_all(outputs: list[tuple[str, object]], inputs: list[str] = ()) -> None:
    """Write every (path, array or dict of arrays) pair, all of them or none (see `output_files`);
    `-` is stdout; never over one of `inputs`."""
    for out, _ in outputs:
        check_output_path(out, list(inputs))
    output_files.write_all([(out, _writer(data)) for out, data in outputs])


def save_array(out: str, array: np.ndarray, inputs: list[str] = ()) -> None:
    """Write `array` as .npy to `out` (`-`: stdout) atomically; never over one of `inputs`."""
    save_all([(out, array)], inputs)
