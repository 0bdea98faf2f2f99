"""Edge-case rows every loss gets, derived from its spec: empty batches, NaN
propagation, subnormal inputs, and non-contiguous / transposed / expanded
(stride-0) / sliced (storage-offset) memory layouts.

Their inputs come from the loss's own strategy (its first variant), transformed;
their expectations come from the mathematics: an empty sum is 0 and an empty mean
0/0 = NaN (as torch documents for its reductions; pytorch/pytorch#50224), a term
that depends on a NaN is NaN, and a loss does not depend on how its inputs are
laid out in memory (the reference computes the value).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, strategies as st

from ..cases import Case
from ..spec import LossSpec
from .expect import Empty, agrees, exactly, nan
from .row import EdgeCase, Layout


def _values(spec: LossSpec, case: Case) -> list[str]:
    """The floating arguments that hold values (not class indices, not +-1 labels)."""
    return [k for k, v in case.args.items() if v.dtype.kind == "f" and k not in spec.label_args]


def _base(spec: LossSpec, fmt):
    """The loss's first variant; for a loss whose input and target broadcast, the cases of one shape
    (the generic rows change both arguments' layout alike: broadcast pairs are the agreement, gradient
    and invariant checks' own, ``properties.broadcast``)."""
    from ..broadcast import BROADCASTS

    cases = spec.cases(spec.variants[0], fmt)
    if spec.name in BROADCASTS:
        return cases.filter(lambda c: np.shape(c.args["input"]) == np.shape(c.args["target"]))
    return cases


def _empty_batch(spec: LossSpec, reduction: str):
    def inputs(fmt):
        def cut(case: Case):
            first = next(iter(case.args.values()))
            assume(first.ndim > spec.event_dims)
            empty = Case({k: v[:0] if v.ndim else v for k, v in case.args.items()}, case.kwargs)
            # a batch-pooled loss (Dice with batch=True) still has per-class terms: not this row
            assume(spec.call_reference(empty, reduction="none").size == 0)
            return empty.with_kwargs(reduction=reduction)

        return _base(spec, fmt).map(cut)

    return inputs


@st.composite
def _one_nan(draw, spec: LossSpec, fmt):
    case = draw(_base(spec, fmt))
    names = [k for k in _values(spec, case) if case.args[k].size]
    assume(names)
    name = draw(st.sampled_from(names))
    v = case.args[name].copy()
    v.flat[draw(st.integers(0, v.size - 1))] = np.nan
    return Case({**case.args, name: v}, case.kwargs).with_kwargs(
        reduction=draw(st.sampled_from(spec.reductions)))


@st.composite
def _subnormal(draw, spec: LossSpec, fmt):
    """Every non-label floating input scaled so its largest magnitude is tiny/2 (subnormal)."""
    case = draw(_base(spec, fmt))
    args = dict(case.args)
    for k in _values(spec, case):
        v = case.args[k]
        m = np.max(np.abs(v)) if v.size else 0.0
        args[k] = v / m * (fmt.tiny / 2) if m > 0 else v  # v / m first: m may itself be subnormal
    return Case(args, case.kwargs).with_kwargs(reduction=draw(st.sampled_from(spec.reductions)))


def _with_reduction(spec: LossSpec):
    def inputs(fmt):
        return st.tuples(_base(spec, fmt), st.sampled_from(spec.reductions)).map(lambda cr: cr[0].with_kwargs(
            reduction=cr[1]))

    return inputs


LAYOUTS = (
    Layout("non_contiguous", lambda t: __import__("torch").stack([t, t.new_zeros(t.shape)], -1)[..., 0],
           "torch.stack([t, t.new_zeros(t.shape)], -1)[..., 0]"),
    Layout("transposed", lambda t: t.transpose(0, -1).contiguous().transpose(0, -1),
           "t.transpose(0, -1).contiguous().transpose(0, -1)", min_ndim=2),
    Layout("expanded", lambda t: t[:1].expand(t.shape), "t[:1].expand(t.shape)",
           prepare=lambda v: np.broadcast_to(v[:1], v.shape).copy()),
    Layout("sliced", lambda t: __import__("torch").cat([t[:1], t])[1:], "torch.cat([t[:1], t])[1:]"),
)


def generic_rows(spec: LossSpec) -> list[EdgeCase]:
    rows = []
    for reduction in spec.reductions:
        if reduction == "none":
            expect, why = Empty(), "an empty batch has no terms"
        elif reduction == "sum":
            expect, why = exactly(0.0, "0"), "an empty sum is 0"
        else:
            expect, why = nan("NaN"), f"'{reduction}' of an empty batch is 0/0 (torch documents NaN; pytorch#50224)"
        rows.append(EdgeCase(spec.name, f"empty_batch-{reduction}", _empty_batch(spec, reduction), expect, why))
    rows.append(EdgeCase(spec.name, "nan_propagates", lambda fmt: _one_nan(spec, fmt), agrees(),
                         "a term that depends on a NaN is NaN; the others are unaffected"))
    rows.append(EdgeCase(spec.name, "subnormal_inputs", lambda fmt: _subnormal(spec, fmt), agrees(),
                         "subnormal inputs are ordinary numbers (the model's underflow floor applies)"))
    for layout in LAYOUTS:
        rows.append(EdgeCase(spec.name, f"layout-{layout.name}", _with_reduction(spec), agrees(),
                             "a loss does not depend on the memory layout of its inputs", layout=layout))
    return rows
