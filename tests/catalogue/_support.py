"""Small helpers shared by the catalogue implementations (torch ops only).

Half types (float16, bfloat16) are computed in float32 ("op math", as torch's CPU kernels do)
and the result is cast back to the input's dtype; float32 and float64 are computed natively.
"""

from __future__ import annotations

import torch

REDUCTIONS = ("none", "mean", "sum")
HALF = (torch.float16, torch.bfloat16)


def opmath(t: torch.Tensor) -> torch.Tensor:
    """``t`` in the dtype the arithmetic runs in: float32 for half types, else unchanged (no copy)."""
    return t.float() if t.dtype in HALF else t


def check_reduction(reduction, allowed=REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def check_param(name: str, value, *, lo=None, lo_open=False, hi=None) -> float:
    """A finite-or-infinite real scalar parameter inside its domain (NaN refused)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if v != v:
        raise ValueError(f"{name} must not be NaN")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, got {v}")
    return v


def check_pm1(name: str, y: torch.Tensor) -> None:
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError(f"{name} values must be 1 or -1")


def reduce(terms: torch.Tensor, reduction: str) -> torch.Tensor:
    """none / sum / mean (sum / numel; NaN for an empty tensor, as torch's mean)."""
    check_reduction(reduction)
    if reduction == "none":
        return terms
    if reduction == "sum":
        return terms.sum()
    return terms.mean()


def softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(z)) for every z without overflow: relu(z) + log1p(exp(-|z|)), with -|z| written as
    z - 2 relu(z) so that autograd's derivative at z = 0 is the true 1/2 (abs'(0) = 0 would give 0)."""
    r = torch.relu(z)
    return r + torch.log1p(torch.exp(z - 2 * r))


def same_shape(what: str, a: torch.Tensor, b: torch.Tensor, a_name="input", b_name="target") -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: {b_name} shape {tuple(b.shape)} must equal {a_name} shape {tuple(a.shape)}")


def broadcast_pair(x: torch.Tensor, y: torch.Tensor):
    """Broadcast like torch's regression losses (a RuntimeError where impossible)."""
    return (x, y) if x.shape == y.shape else torch.broadcast_tensors(x, y)


def rows_check(what: str, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> None:
    """(N, D) / (D,) pairs with target (N,) / 0-d of +-1 (the pairwise embedding losses)."""
    if a.shape != b.shape or a.dim() not in (1, 2):
        raise ValueError(f"{what}: input1 {tuple(a.shape)} and input2 {tuple(b.shape)} must be equal (N, D) or (D,)")
    if y.shape != a.shape[:-1]:
        raise ValueError(f"{what}: target must have shape {tuple(a.shape[:-1])}, got {tuple(y.shape)}")
    check_pm1(f"{what} target", y)
