#!/usr/bin/env python3
"""interop.h5py: h5py (with HDF5_PLUGIN_PATH set to the Lazarus plugin folder) reads both ranks' files of
the checkpoint written by write_known_checkpoint and finds every dataset with the dtype, shape, bits and
filter pipeline (shuffle, then zstd 32015) that the writer used. The value formulas repeat those of
write_known_checkpoint.cpp; keep them in step.

Usage: check_h5py.py <checkpoint-dir>. Exits 0 on success, 1 on a mismatch, 77 (ctest skip) when h5py or
numpy cannot be imported.
"""
import glob
import os
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP interop.h5py: {sys.executable} cannot import h5py/numpy ({e})")
    sys.exit(77)

COUNT = 64
ROWS, COLS = 301, 67
SHUFFLE, ZSTD = h5py.h5z.FILTER_SHUFFLE, 32015
COMPRESSION_LEVEL = 3
INTEGERS = {"int8": "<i1", "uint8": "<u1", "int16": "<i2", "uint16": "<u2",
            "int32": "<i4", "uint32": "<u4", "int64": "<i8", "uint64": "<u8"}
FLOATS = {"float32": "<f4", "float64": "<f8"}


def integer_values(dtype, rank):
    info = np.iinfo(dtype)
    bits = info.bits
    values = [info.min, info.max, rank + 1, -(rank + 2) if info.min < 0 else info.max - rank]
    for i in range(4, COUNT):
        v = (i * 0x9E3779B97F4A7C15 + rank * 0xD1B54A32D192ED03) % (1 << bits)
        if info.min < 0 and v >= 1 << (bits - 1):
            v -= 1 << bits
        values.append(v)
    return np.array(values, dtype=dtype)


def float_values(dtype, rank):
    info = np.finfo(dtype)
    t = np.dtype(dtype).type
    values = [info.min, info.max, info.tiny, info.smallest_subnormal, np.inf, -np.inf, -0.0, info.eps]
    values += [t((i - 40.0) * 0.375 + rank * 1000.0 + 1.0 / 3.0) for i in range(8, COUNT)]
    return np.array(values, dtype=dtype)


def expected(rank):
    """name -> expected numpy array (0-d for scalars)."""
    want = {name: integer_values(dt, rank) for name, dt in INTEGERS.items()}
    want.update({name: float_values(dt, rank) for name, dt in FLOATS.items()})
    i, j = np.meshgrid(np.arange(ROWS, dtype="<f8"), np.arange(COLS, dtype="<f8"), indexing="ij")
    want["field"] = rank * 1e5 + i + j / 128.0
    want["step"] = np.array(7777 + rank, dtype="<i8")
    want["time"] = np.array(0.1 * (rank + 1), dtype="<f8")
    blob = f"LAZARUS-INTEROP-RANK-{rank}:".encode() + bytes(range(256))
    want["blob"] = np.frombuffer(blob, dtype="<u1")
    return want


class Checker:
    def __init__(self):
        self.failures = 0

    def fail(self, where, message):
        print(f"FAIL interop.h5py: {where}: {message}", file=sys.stderr)
        self.failures += 1

    def dataset(self, where, ds, want):
        if ds.dtype != want.dtype:
            return self.fail(where, f"dtype {ds.dtype.str}, expected {want.dtype.str}")
        if ds.shape != want.shape:
            return self.fail(where, f"shape {ds.shape}, expected {want.shape}")
        try:
            got = ds[()]
        except OSError as e:
            return self.fail(where, f"cannot read ({e}); is HDF5_PLUGIN_PATH={os.environ.get('HDF5_PLUGIN_PATH')} "
                                    "the folder of the zstd filter plugin?")
        got = np.asarray(got)
        # Bit-exact: -0.0, inf and subnormals included.
        uint = np.dtype(f"<u{want.dtype.itemsize}")
        diff = np.flatnonzero(got.view(uint).ravel() != want.view(uint).ravel())
        if diff.size:
            k = diff[0]
            return self.fail(where, f"{diff.size} of {want.size} values differ; first at flat index {k}: "
                                    f"{got.ravel()[k]!r}, expected {want.ravel()[k]!r}")
        if want.ndim == 0:
            if ds.chunks is not None:
                self.fail(where, f"a scalar should not be chunked (chunks {ds.chunks})")
            return
        self.pipeline(where, ds)

    def pipeline(self, where, ds):
        if ds.chunks is None:
            return self.fail(where, "not chunked")
        plist = ds.id.get_create_plist()
        filters = [plist.get_filter(k) for k in range(plist.get_nfilters())]
        codes = [f[0] for f in filters]
        if codes != [SHUFFLE, ZSTD]:
            return self.fail(where, f"filter pipeline {codes}, expected [shuffle={SHUFFLE}, zstd={ZSTD}]")
        zstd_params = tuple(filters[1][2])
        if zstd_params and zstd_params[0] != COMPRESSION_LEVEL:
            self.fail(where, f"zstd parameters {zstd_params}, expected level {COMPRESSION_LEVEL} first")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.join(sys.argv[1], "interop")
    versions = sorted(p for p in glob.glob(os.path.join(root, "v*")) if re.fullmatch(r"v\d{10}", os.path.basename(p)))
    if len(versions) != 1:
        print(f"FAIL interop.h5py: expected one version folder v<10 digits> under {root}, found {versions}",
              file=sys.stderr)
        return 1
    print(f"h5py {h5py.version.version} on HDF5 {h5py.version.hdf5_version}, "
          f"HDF5_PLUGIN_PATH={os.environ.get('HDF5_PLUGIN_PATH')}")
    check = Checker()
    for rank in (0, 1):
        path = os.path.join(versions[0], f"rank-{rank:05d}.h5")
        if not os.path.isfile(path):
            check.fail(path, f"missing (folder holds {sorted(os.listdir(versions[0]))})")
            continue
        want = expected(rank)
        with h5py.File(path, "r") as f:
            datasets = {name for name, obj in f.items() if isinstance(obj, h5py.Dataset)}
            if datasets != set(want):
                check.fail(path, f"datasets {sorted(datasets)}, expected {sorted(want)}")
            for name in sorted(datasets & set(want)):
                check.dataset(f"{os.path.basename(path)}:/{name}", f[name], want[name])
            field = f.get("field")
            if isinstance(field, h5py.Dataset) and field.chunks is not None:
                if all(n % c == 0 for n, c in zip(field.shape, field.chunks)):
                    check.fail(f"{os.path.basename(path)}:/field",
                               f"chunks {field.chunks} tile {field.shape} exactly; expected partial edge chunks")
                else:
                    print(f"{os.path.basename(path)}:/field chunks {field.chunks}, edge chunks partial")
        print(f"checked {path}: {len(want)} datasets")
    if check.failures:
        print(f"FAIL interop.h5py: {check.failures} check(s) failed", file=sys.stderr)
        return 1
    print("PASS interop.h5py: every dataset of both ranks has the dtype, shape, values and filters written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
