"""Device placement on every machine: the contract's device half, checked on torch's ``meta`` device.

The value checks run on ``cpu`` (and ``cuda`` where there is one).  A loss that builds a tensor
without ``device=`` in one branch -- ``return torch.tensor(0.0)`` for an empty batch, a
``torch.arange(n)`` index, a custom backward returning ``torch.zeros(shape)`` -- is right on
``cpu``, where every tensor lives, and wrong on every accelerator.  The ``meta`` device exists on
every machine: a meta tensor has a shape, a dtype and a device but no values, so ops on it only
propagate metadata (torch's meta kernels; https://pytorch.org/docs/stable/meta.html).  On
``meta`` the contract is placement only (:func:`check_placement`):

- the output is a ``torch.Tensor`` on the inputs' device (``meta``), of the case's dtype and of
  the reference's shape (:func:`properties.diagnosis.check_returned`, as on every device);
- the gradient of every differentiable input (``properties.gradients.DIFFERENTIABLE``; a
  gradient that does not reach an input is a zero gradient, the value checks' business) is on
  that input's device, of its dtype and shape (autograd itself refuses a gradient on another
  device, see below);

on cases of every variant and reduction in three batch shapes (:func:`placement_cases`): as drawn,
cut to one sample, cut to an empty batch -- where the branches that build constants live.  A case
whose values select a branch (all targets ignored, no positive pixel) has no such branch on
``meta``: a plug-in can only take it by reading values, which meta tensors lack.

**A raise on meta** is classified by running the same case on ``cpu`` (:func:`classify_raise`):

- it raises on ``cpu`` too: a raise on valid input -- a finding (the contract's own breach);
- ``cpu`` succeeds and the message is a device mismatch (torch: "Tensor on device cpu is not on the
  expected device meta!", "expected all tensors to be on the same device", autograd's "invalid
  gradient ... expected device meta but got cpu"): a finding -- the same code raises on ``cuda``;
- ``cpu`` succeeds otherwise: the plug-in reads values (``.item()``, ``.tolist()``, ``.cpu()``,
  ``if tensor:``, ``nonzero``) or calls an op without a meta kernel.  That breaks no contract on a
  real device: the example is *not applicable on meta* (:class:`NotApplicableOnMeta`), counted
  and reported by the gate (``properties.tally.reject``), neither a finding nor a pass.

The torch built-ins of every loss in torch 2.13 run on ``meta`` (forward and backward, every
variant, reduction and batch shape drawn: none is not applicable, tests/gate/test_placement.py); the
Keras adapters do not place their result on the input's device (known deviation
``keras_meta_input_moved_to_keras_device``, keras-team/keras#21052).
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import strategies as st

from .agreement import ContractBreach, _first_line
from .cases import Case
from .diagnosis import check_returned, guarded, headline, run_subject, script
from .gradients import differentiable, without_refused
from .spec import LossSpec

META = "meta"

#: the batch shapes every placement example is drawn in: the branches that build constants
#: (``if input.numel() == 0: return torch.tensor(0.0)``) live at the empty batch and at one sample
SHAPES = ("as drawn", "batch 1", "empty batch")

#: a raise whose message says a tensor is on the wrong device (torch's meta and CUDA wordings,
#: autograd's check of a backward's result); "meta device type tensor to numpy" is a value read
_DEVICE_MISMATCH = re.compile(r"same device|expected device|not on the expected device|device type \w+ but got"
                              r"|on device \w+ but|devices? \w+ and \w+", re.IGNORECASE)


class PlacementError(AssertionError):
    """A finding of the placement check: the one-line diagnosis, the case, a reproduction."""


class NotApplicableOnMeta(Exception):
    """The implementation cannot run on ``meta`` (it reads values, or an op has no meta kernel)
    though it runs on ``cpu``: the example is not applicable, neither a finding nor a pass."""


def batch_cut(spec: LossSpec, case: Case, n: int) -> Case | None:
    """``case`` with a batch of its first ``n`` samples: every argument sliced along its leading
    (batch) dimension, and every keyword array of the first argument's shape (an elementwise weight)
    with it; a case without a batch dimension (a 0-d input, one sample of a row loss) is first given
    one of size 1 (``v[None]``).  None when the case has that batch already or the new case is not
    one the reference takes (a parameter that does not broadcast with it)."""
    first = next(iter(case.args.values()))
    batched = first.ndim > spec.event_dims
    if batched and first.shape[0] == n:
        return None
    lift = (lambda v: v) if batched else (lambda v: np.asarray(v)[None])
    size = first.shape[0] if batched else 1
    cut = lambda v: lift(v)[:n] if lift(v).shape[0] == size else v
    arrays = lambda v: isinstance(v, np.ndarray) and (v.shape == first.shape or batched and v.ndim and v.shape[0] == size)
    out = Case({k: cut(v) if arrays(v) or not batched else v for k, v in case.args.items()},
               {k: cut(v) if isinstance(v, np.ndarray) and v.shape == first.shape else v for k, v in case.kwargs.items()})
    try:
        with np.errstate(all="ignore"):
            spec.call_reference(out, reduction="none")
    except Exception:
        return None
    return out


def placement_cases(spec: LossSpec, variant: str, fmt) -> st.SearchStrategy:
    """``(case, shape)``: a case of ``variant`` (the loss's own strategy) in one of :data:`SHAPES`
    (a case that has no such shape keeps its drawn one, and says so)."""

    @st.composite
    def draw(draw_):
        case = draw_(spec.cases(variant, fmt), label="case")
        shape = draw_(st.sampled_from(SHAPES), label="batch shape")
        if shape == "as drawn":
            return case, shape
        cut = batch_cut(spec, case, 1 if shape == "batch 1" else 0)
        return (case, "as drawn") if cut is None else (cut, shape)

    return draw()


def _requiring_grad(case: Case, args, kwargs, names) -> dict:
    """``{name: tensor}`` for the differentiable arguments ``names`` -- positional or keyword (a
    ``weight``) -- of the call's ``args``/``kwargs``, each set to require its gradient."""
    order = list(case.args)
    return {n: (args[order.index(n)] if n in case.args else kwargs[n]).requires_grad_(True) for n in names}


def _run(subject, case: Case, names, dtype: str, device: str):
    """Forward and backward (an upstream gradient of ones) of ``subject`` on ``case`` on ``device``:
    ``(output, {name: (gradient or None, input)})``; exceptions propagate as they are."""
    import torch

    args, kwargs = case.to_torch(dtype, device)
    inputs = _requiring_grad(case, args, kwargs, names)
    out = run_subject(subject, args, kwargs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return out, {n: (None, t) for n, t in inputs.items()}
    grads = torch.autograd.grad(out, list(inputs.values()), torch.ones_like(out), allow_unused=True)
    return out, {n: (g, t) for (n, t), g in zip(inputs.items(), grads)}


def classify_raise(subject, case: Case, names, dtype: str, exc: BaseException, where: str) -> str:
    """The finding's diagnosis for ``exc``, raised on ``meta`` (``where``: "" or " (in backward)");
    :class:`NotApplicableOnMeta` when the case runs on ``cpu`` and the raise is no device mismatch
    (see the module docstring)."""
    message = f"{type(exc).__name__}: {_first_line(exc)}"
    try:
        guarded(lambda: _run(subject, case, names, dtype, "cpu"))  # a raise in backward too
    except ContractBreach as breach:  # raises (or hangs, or mutates) on cpu too: the contract's breach
        return f"{breach}{where}"
    if _DEVICE_MISMATCH.search(str(exc)):
        return f"raises on meta only, device mismatch{where}: {message} (the same call on cuda raises; cpu hides it)"
    raise NotApplicableOnMeta(f"not applicable on meta: reads values or lacks a meta kernel{where} "
                              f"({type(exc).__name__}: {_first_line(exc)[:120]})")


def placement_reproduction(subject, case: Case, names, dtype: str, shape) -> str:
    """A script: the case on ``meta`` (inputs ``names`` with ``requires_grad_()``), the call, what it
    returned against the contract, and each gradient's device, dtype and shape against its input's."""
    grads = [
        'grads = torch.autograd.grad(out, [' + ", ".join(names) + '], torch.ones_like(out), allow_unused=True) '
        'if isinstance(out, torch.Tensor) and out.requires_grad else [None] * ' + str(len(names)),
        f"for name, g, t in zip({list(names)!r}, grads, [{', '.join(names)}]):",
        '    print(f"d/d{name}:", None if g is None else (g.dtype, g.device, tuple(g.shape)), '
        '"contract:", (t.dtype, t.device, tuple(t.shape)))'] if names else []
    return script(subject, case, dtype, META, requires_grad=tuple(names), watch=False, after=[
        'print("returned: ", type(out).__name__, getattr(out, "dtype", None), getattr(out, "device", None), '
        'tuple(getattr(out, "shape", ())))',
        f'print("contract:  Tensor torch.{dtype} meta", {tuple(shape)!r})', *grads])


def check_placement(spec: LossSpec, subject, case: Case, dtype: str, reduction: str, shape: str = "as drawn") -> None:
    """The placement contract on ``meta`` (module docstring) for ``subject`` on ``case`` (rounded
    to ``dtype``, with ``reduction``); :class:`PlacementError` for a finding,
    :class:`NotApplicableOnMeta` where the implementation cannot run on ``meta``."""
    import torch

    case = case.rounded(dtype).with_kwargs(reduction=reduction)
    with np.errstate(all="ignore"):
        want = np.shape(spec.call_reference(case))
    # less an argument torch refuses to differentiate (a recorded deviation: properties.gradients.REFUSED)
    names, _ = without_refused(spec, subject, case, differentiable(spec, case), dtype)

    def finding(diagnosis: str) -> PlacementError:
        where = f"reduction={reduction!r} {shape}"
        return PlacementError(
            f"{headline(subject.qualname, diagnosis, spec.name, dtype, META, where)}\n"
            f"placement on meta (no values: device, dtype and shape of the output and of the gradients "
            f"w.r.t. {names})\ncase: {case!r}\nReproduce:\n{placement_reproduction(subject, case, names, dtype, want)}")

    args, kwargs = case.to_torch(dtype, META)
    inputs = _requiring_grad(case, args, kwargs, names)
    try:
        out = run_subject(subject, args, kwargs)
    except ContractBreach as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise finding(classify_raise(subject, case, names, dtype, cause, "")) from exc.__cause__
    try:
        check_returned(out, dtype, META, want)
    except ContractBreach as exc:
        raise finding(str(exc)) from None
    if not out.requires_grad or not inputs:
        return
    try:
        grads = torch.autograd.grad(out, list(inputs.values()), torch.ones_like(out), allow_unused=True)
    except Exception as exc:
        raise finding(classify_raise(subject, case, names, dtype, exc, " (in backward)")) from exc
    problems = []
    for (name, t), g in zip(inputs.items(), grads):
        if g is None:
            continue
        if g.device != t.device or g.dtype != t.dtype or g.shape != t.shape:
            problems.append(f"gradient w.r.t. {name}: {g.dtype} on {g.device} of shape {tuple(g.shape)}, "
                            f"expected {t.dtype} on {t.device} of shape {tuple(t.shape)}")
    if problems:
        raise finding("; ".join(problems))
