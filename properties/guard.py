"""The input-mutation guard: every call of an implementation under test goes through
:func:`guarded_call`, which fails when the call changed any tensor it was given.

"Changed" is bit-level: the bytes of every tensor (NaN payloads and the sign of
zero included) and its metadata (shape, strides, storage offset, dtype, device),
so an in-place ``clamp_``, a ``resize_``, a ``t_()`` or a write through a view
are all caught.  A tensor on the ``meta`` device has no values: only its metadata is compared
(the placement check, ``properties.placement``, runs there; the value checks catch a write).  The snapshot is a copy taken before the call; the harness's own
NumPy arrays are never handed out (tensors are fresh copies of them).
"""

from __future__ import annotations

from typing import Any, Callable


class InputMutationError(AssertionError):
    """An implementation under test modified a tensor it was given."""


def _tensors(args, kwargs):
    import torch

    for i, v in enumerate(args):
        if isinstance(v, torch.Tensor):
            yield f"argument {i}", v
    for k, v in kwargs.items():
        if isinstance(v, torch.Tensor):
            yield k, v


def _bytes(t):
    """The tensor's values as a flat uint8 tensor on the CPU (exact, NaN-safe, any dtype)."""
    import torch

    flat = torch.empty(t.numel(), dtype=t.dtype)  # a fresh dense copy (stride 1 even for size-1 dims)
    flat.copy_(t.detach().reshape(-1))
    return flat.view(torch.uint8) if flat.numel() else flat.to(torch.uint8)


def _meta(t):
    return (tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.dtype, t.device)


def snapshot(args, kwargs) -> list[tuple[str, Any, tuple, Any]]:
    """``(name, tensor, metadata, values)`` of every tensor argument (values None on ``meta``)."""
    return [(name, t, _meta(t), None if t.is_meta else _bytes(t).clone()) for name, t in _tensors(args, kwargs)]


def changes(snap) -> list[str]:
    """Descriptions of what changed since ``snapshot`` (empty when nothing did)."""
    import torch

    found = []
    for name, t, meta, data in snap:
        if _meta(t) != meta:
            found.append(f"{name}: shape/stride/offset/dtype/device {meta} -> {_meta(t)}")
        elif data is not None and not torch.equal(_bytes(t), data):
            found.append(f"{name}: values changed in place")
    return found


def guarded_call(fn: Callable, args, kwargs, label: str = "implementation"):
    """``fn(*args, **kwargs)``, raising :class:`InputMutationError` if it mutated a tensor argument."""
    snap = snapshot(args, kwargs)
    out = fn(*args, **kwargs)
    found = changes(snap)
    if found:
        raise InputMutationError(f"{label} modified its inputs: " + "; ".join(found))
    return out
