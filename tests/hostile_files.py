"""A directory of good and hostile input files, shared by the corpus, the shell tests and the fuzz test.

Every damaged file is made from a good one in a way that names the damage: a flipped byte in an
archive member (CRC error), half an archive, a header that lies about its shape, a header holding
code, a pickle, a big-endian copy.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

FEATURES_SHAPE = (2, 4, 24, 32)


def _npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_with_header(header: str, payload: bytes = b"\0" * 64) -> bytes:
    """A version 1.0 .npy file with the header text given as is (padded as numpy pads it)."""
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def _flip_member_byte(archive: bytes, member: str) -> bytes:
    """The archive with one byte of `member`'s stored data flipped: its CRC no longer matches."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        info = z.getinfo(member)
    local = info.header_offset
    name_length, extra_length = struct.unpack("<HH", archive[local + 26 : local + 30])
    data = local + 30 + name_length + extra_length
    spot = data + info.compress_size - 3  # inside the array's values, past the .npy header
    damaged = bytearray(archive)
    damaged[spot] ^= 0xFF
    return bytes(damaged)


def make_corpus(root: Path) -> Path:
    rng = np.random.default_rng(7)
    features = rng.standard_normal(FEATURES_SHAPE).astype(np.float32)
    rois = np.array([[0, 2, 3, 20, 18], [1, 0, 0, 31, 23], [1, 5, 5, 6, 9]], dtype=np.float32)
    np.save(root / "f.npy", features)
    np.save(root / "r.npy", rois)
    from roialign_cli import roi_align

    np.save(root / "ref.npy", roi_align(features, rois, (7, 7), 1.0, 2, backend="numpy"))
    np.save(root / "det.npy", np.array([[[[0, 1, 0.9, 0.1, 0.1, 0.5, 0.6], [-1, 0, 0, 0, 0, 0, 0]]]]))
    np.savez(root / "onnx.npz", rois=rois[:, 1:], batch_indices=rois[:, 0].astype(np.int64))
    (root / "onnx_crc.npz").write_bytes(_flip_member_byte((root / "onnx.npz").read_bytes(), "rois.npy"))
    np.savez(root / "f.npz", features=features)
    archive = (root / "f.npz").read_bytes()
    (root / "f_crc.npz").write_bytes(_flip_member_byte(archive, "features.npy"))
    (root / "f_half.npz").write_bytes(archive[: len(archive) // 2])
    (root / "badzip.npz").write_bytes(b"PK\x03\x04" + bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    good = (root / "f.npy").read_bytes()
    (root / "f_trunc.npy").write_bytes(good[:200])
    (root / "empty.npy").write_bytes(b"")
    (root / "text.npy").write_text("features, honest\n")
    np.save(root / "pickle.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (root / "code.npy").write_bytes(
        _npy_with_header("{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (2,), }")
    )
    (root / "lying.npy").write_bytes(
        _npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (10000000000000,), }", b"\0" * 400)
    )
    (root / "lying_member.npz").write_bytes(_zip_of({"features.npy": (root / "lying.npy").read_bytes()}))
    (root / "odd_members.npz").write_bytes(_zip_of({"feat": _npy_bytes(features), "notes.txt": b"not an array"}))
    np.save(root / "f_be.npy", features.astype(">f4"))
    np.save(root / "r_be.npy", rois.astype(">f8"))
    np.save(root / "ref_be.npy", np.load(root / "ref.npy").astype(">f4"))
    np.savez(root / "onnx_be.npz", rois=rois[:, 1:].astype(">f4"), batch_indices=rois[:, 0].astype(">i8"))
    np.save(root / "f0.npy", np.zeros((2, 0, 24, 32), np.float32))
    np.save(root / "f_int.npy", np.zeros(FEATURES_SHAPE, np.int32))
    np.save(root / "f_3d.npy", np.zeros((4, 24, 32), np.float32))
    np.save(root / "f_empty_h.npy", np.zeros((2, 4, 0, 32), np.float32))
    np.save(root / "f_empty_n.npy", np.zeros((0, 4, 24, 32), np.float32))
    np.save(root / "f_complex.npy", np.zeros(FEATURES_SHAPE, np.complex64))
    np.save(root / "r_nan.npy", np.array([[0, 1, 1, np.nan, 5]], np.float32))
    np.save(root / "r_inf.npy", np.array([[0, 1, 1, np.inf, 5]], np.float32))
    np.save(root / "r_batch.npy", np.array([[5, 1, 1, 5, 5]], np.float32))
    np.save(root / "r_frac.npy", np.array([[0.5, 1, 1, 5, 5]], np.float32))
    np.save(root / "r_neg.npy", np.array([[-3, 1, 1, 5, 5]], np.float32))
    np.save(root / "r_1d.npy", np.array([0, 1, 1, 5, 5], np.float32))
    np.save(root / "r_6.npy", np.zeros((3, 6), np.float32))
    np.save(root / "r_str.npy", np.array([["a", "b", "c", "d", "e"]]))
    np.save(root / "r_empty.npy", np.zeros((0, 5), np.float32))
    np.save(root / "r_1e30.npy", np.array([[0, -1e30, -1e30, 1e30, 1e30], [0, 1, 1, 1e30, 1e30]], np.float32))
    np.save(root / "r_1e20.npy", np.array([[0, 1, 1, 1e20, 1e20], [1, -1e20, 2, 3, 1e20]], np.float32))
    np.save(root / "r_1e300.npy", np.array([[0, 1, 1, 1e300, 1e300]], np.float64))
    np.save(root / "max_pos.npy", np.full((3, 4, 7, 7), np.finfo(np.float32).max, np.float32))
    np.save(root / "max_neg.npy", np.full((3, 4, 7, 7), -np.finfo(np.float32).max, np.float32))
    np.save(root / "half_max.npy", np.full((3, 4, 7, 7), -65504, np.float16))
    np.save(root / "r_huge.npy", np.array([[0, 0, 0, 1e7, 1e7]], np.float32))
    np.save(root / "r_wide.npy", np.array([[0, 0, 0, 10000, 10000]], np.float32))
    np.save(root / "ref_wide.npy", roi_align(features, np.load(root / "r_wide.npy"), 7, 1 / 64, 2, backend="numpy"))
    np.save(root / "ref_3d.npy", np.zeros((3, 4, 7), np.float32))
    np.save(root / "ref_int.npy", np.zeros((3, 4, 7, 7), np.int32))
    np.save(root / "batch.npy", np.array([0, 1, 1]))
    np.save(root / "batch_short.npy", np.array([0]))
    (root / "adir").mkdir()
    return root


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def listing(root: Path) -> set[str]:
    """Every path under root, hidden files included (where a stray `.NAME.partial` would show)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}
