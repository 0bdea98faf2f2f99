"""Shared validation, reduction and blockwise evaluation for the float64 reference implementations.

Every reference returns a ``numpy.ndarray`` of dtype float64: the unreduced
terms for ``reduction='none'`` and a 0-d array otherwise, like torch returns a
0-d tensor.  Inputs are converted with :func:`as_f64` (a copy is never needed:
no reference writes into an array it was given).
"""

from __future__ import annotations

import numpy as np

REDUCTIONS = ("none", "mean", "sum")

#: Elements per block of :func:`elementwise`: 64 KiB of float64.  A kernel makes several
#: temporaries per block; this small, they stay in cache and malloc recycles them from
#: its heap.  From ~256 KiB on, glibc's malloc maps and unmaps (or trims) fresh pages
#: for them on every block, and the page faults cost more than the arithmetic.
BLOCK = 1 << 13

#: Elements per block of :func:`rowwise`: 512 KiB of float64.  The row kernels make one
#: block-sized temporary and work in it in place, which is safe from that page-fault
#: churn at this size, and larger blocks spread the per-call overhead over more rows.
ROW_BLOCK = 1 << 16


def as_f64(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array, refusing non-numeric input clearly."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def as_index(name: str, value) -> np.ndarray:
    """Return ``value`` as an int64 array of class indices."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array of class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_reduction(reduction: str, allowed=REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def check_same_shape(what: str, a: np.ndarray, b: np.ndarray, a_name="input", b_name="target") -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: {b_name} shape {b.shape} must equal {a_name} shape {a.shape}")


def broadcast_pair(input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast like ``torch.broadcast_tensors`` (torch warns and broadcasts)."""
    try:
        return np.broadcast_arrays(input, target)
    except ValueError:
        raise ValueError(
            f"input shape {input.shape} and target shape {target.shape} cannot be broadcast together"
        ) from None


def check_finite_param(name: str, value, *, lo=None, lo_open=False, hi=None) -> float:
    """Validate a scalar parameter and return it as float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, got {v}")
    return v


def check_pm1(name: str, target: np.ndarray) -> None:
    """Targets of the embedding losses are +1 / -1."""
    if not np.all((target == 1) | (target == -1)):
        raise ValueError(f"{name} values must be 1 or -1")


def pairwise_sum(a: np.ndarray, axis, keepdims: bool = False) -> np.ndarray:
    """``np.sum(a, axis)`` with NumPy's pairwise summation on every axis: NumPy sums a contiguous last
    axis pairwise (error ~log2(n) u sum|a|) but any other axis row by row (~n u: 990 equal terms
    summed over axis 0 came out 62 u off), so the summed axes are moved last and made contiguous."""
    a = np.asarray(a, dtype=np.float64)
    axes = tuple(sorted(ax % a.ndim for ax in ((axis,) if np.ndim(axis) == 0 else axis)))
    kept = [i for i in range(a.ndim) if i not in axes]
    if not axes:
        return a.copy()
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))  # (not -1: an empty array has no inferable size)
    rows = np.ascontiguousarray(np.transpose(a, kept + list(axes))).reshape([a.shape[i] for i in kept] + [n])
    out = np.sum(rows, axis=-1)
    if keepdims:
        out = out.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])
    return out


def reduce(terms: np.ndarray, reduction: str) -> np.ndarray:
    """Apply torch's ``apply_loss_reduction``: none, mean (sum/numel, NaN when empty), sum.

    Summation is NumPy's pairwise sum: error <= ~log2(n) * eps * sum|terms|.
    """
    check_reduction(reduction)
    if reduction == "none":
        return terms
    total = np.sum(terms, dtype=np.float64)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / terms.size) if terms.size else np.asarray(np.nan)


def broadcast_weight(weight, shape, name="weight") -> np.ndarray | None:
    """``weight`` as float64 broadcast to ``shape`` (torch's expand, a view), or None."""
    if weight is None:
        return None
    w = as_f64(name, weight)
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {w.shape} cannot be broadcast to shape {shape}") from None


def weighted(terms: np.ndarray, weight, name="weight") -> np.ndarray:
    """Multiply ``terms`` by ``weight`` broadcast to the terms' shape (torch's expand)."""
    w = broadcast_weight(weight, terms.shape, name)
    return terms if w is None else terms * w


def elementwise(kernel, *operands: np.ndarray, **optional: np.ndarray | None) -> np.ndarray:
    """``kernel(*operands, **optional)`` for an elementwise ``kernel``, evaluated block by block.

    The float64 ``operands`` and the ``optional`` keyword operands that are not None
    are broadcast together; ``kernel`` receives 1-D read-only blocks of at most
    :data:`BLOCK` corresponding elements (the None keywords are not passed) and
    returns the block's values.  The result (a new float64 array of the broadcast shape)
    holds exactly the values ``kernel`` computes on the whole arrays, but the
    kernel's temporaries are cache-sized blocks instead of full-size arrays:
    several times less memory traffic and no page faults for each temporary.
    ``kernel`` must treat every element independently (no reductions).
    """
    names = [k for k, v in optional.items() if v is not None]
    arrays = [*operands, *(optional[k] for k in names)]
    n = len(operands)
    it = np.nditer(
        [*arrays, None],
        flags=["external_loop", "buffered", "zerosize_ok"],
        op_flags=[["readonly"]] * len(arrays) + [["writeonly", "allocate"]],
        op_dtypes=[np.float64] * (len(arrays) + 1),
        buffersize=BLOCK,
    )
    with it:
        for *blocks, out in it:
            out[...] = kernel(*blocks[:n], **dict(zip(names, blocks[n:])))
        return it.operands[-1]


def rowwise(fn, *arrays: np.ndarray, block: int = ROW_BLOCK) -> np.ndarray:
    """``fn(*arrays)`` for a ``fn`` that computes each row (index along axis 0) of its
    result from the same rows of ``arrays`` alone, evaluated on blocks of whole rows of
    about ``block`` elements of ``arrays[0]``, the results concatenated along axis 0.

    Same values as one call on the whole arrays, but the temporaries of ``fn`` are
    block-sized.  Arrays of fewer than 2 dimensions (a single row) go in whole.
    """
    a = arrays[0]
    if a.ndim < 2:
        return fn(*arrays)
    row = a[0].size if a.shape[0] else 0
    rows = max(1, block // max(1, row))
    if a.shape[0] <= rows:
        return fn(*arrays)
    return np.concatenate([fn(*(v[i : i + rows] for v in arrays)) for i in range(0, a.shape[0], rows)])
