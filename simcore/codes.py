"""Integer codes for job columns, so that per-job tables are built per distinct value.

Why: a dict lookup or a Python expression per job costs about a second at a million jobs, and the
engine's set-up has a dozen of them; Arrow's dictionary encoding and numpy's unique do the same
work in milliseconds, and the expression then runs once per distinct value.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def factorize(values: Any) -> tuple[list, np.ndarray]:
    """(the distinct values, the code of each row): values == distinct[codes]. Texts come in order
    of first sight, numbers sorted."""
    import pyarrow as pa

    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        distinct, code = np.unique(values, return_inverse=True)
        return distinct.tolist(), code.reshape(-1).astype(np.int64)
    try:
        coded = pa.array(values, type=pa.string()).dictionary_encode()
        return coded.dictionary.to_pylist(), coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        seen: dict = {}
        codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64, count=len(values))
        return list(seen), codes


def codes(values: Any) -> np.ndarray:
    """Integer codes below the row count: integers less their minimum (or their rank, when sparse),
    floats their rank, texts in order of first sight."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub" or (
            isinstance(values, list) and values and isinstance(values[0], (int, bool))):
        arr = np.asarray(values, dtype=np.int64)
        if not len(arr):
            return arr
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo < len(arr):            # dense enough: the offset is the code, below the row count
            return arr - lo
        return np.unique(arr, return_inverse=True)[1].reshape(-1)
    return factorize(values)[1]


def groups(columns: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each group, group of each row) of the rows equal in every column. Codes are
    below the row count n, so re-coding the key whenever the product of widths would pass 2^62
    keeps it exact: after a re-code both factors are at most n."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for col in columns:
        c = codes(col)
        width = int(c.max()) + 1 if len(c) else 1
        if span * width >= 1 << 62:          # Python ints: the test itself cannot overflow
            key = np.unique(key, return_inverse=True)[1].reshape(-1)
            span = int(key.max()) + 1 if len(key) else 1
        key = key * width + c
        span *= width
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return first, group.reshape(-1)


def pairs(a: Any, b: Any) -> tuple[list[tuple], np.ndarray]:
    """factorize for the rows' (a, b) pairs."""
    da, ca = factorize(a)
    db, cb = factorize(b)
    first, group = groups([ca, cb]) if len(ca) else (np.zeros(0, dtype=np.int64),) * 2
    return [(da[ca[f]], db[cb[f]]) for f in first.tolist()], group
