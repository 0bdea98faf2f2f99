"""Edge-case rows every loss gets, derived from its spec: empty batches, NaN
propagation, subnormal inputs, and non-contiguous / transposed / expanded
(stride-0) / sliced (storage-offset) memory layouts.

Their inputs come from the loss's own strategy (its first variant), transformed (the layouts:
``properties.layouts.LAYOUTS``, which every check also draws per argument in every variant);
their expectations come from the mathematics: an empty sum is 0 and an empty mean
0/0 = NaN (as torch documents for its reductions; pytorch/pytorch#50224), a term
that depends on a NaN is NaN, and a loss does not depend on how its inputs are
laid out in memory (the reference computes the value).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..cases import Case
from ..spec import LossSpec
from .expect import Empty, agrees, exactly, nan
from ..layouts import LAYOUTS, is_long
from .crossed import cut, poke, transformed_cases, value_args
from .row import EdgeCase


def _base(spec: LossSpec, fmt):
    """The loss's first variant; for a loss whose input and target broadcast, the cases of one shape
    (the generic rows change both arguments' layout alike: broadcast pairs are the agreement, gradient
    and invariant checks' own, ``properties.broadcast``)."""
    from ..broadcast import BROADCASTS

    cases = spec.cases(spec.variants[0], fmt)
    if spec.name in BROADCASTS:
        return cases.filter(lambda c: np.shape(c.args["input"]) == np.shape(c.args["target"]))
    return cases


def _transformed(spec: LossSpec, transform, reduction: str | None = None):
    return transformed_cases(spec, transform, spec.variants[0], reduction)


@st.composite
def _subnormal(draw, spec: LossSpec, fmt):
    """Every non-label floating input scaled so its largest magnitude is tiny/2 (subnormal)."""
    case = draw(_base(spec, fmt))
    args = dict(case.args)
    for k in value_args(spec, case):
        v = case.args[k]
        m = np.max(np.abs(v)) if v.size else 0.0
        args[k] = v / m * (fmt.tiny / 2) if m > 0 else v  # v / m first: m may itself be subnormal
    return Case(args, case.kwargs).with_kwargs(reduction=draw(st.sampled_from(spec.reductions)))


def _with_reduction(spec: LossSpec):
    def inputs(fmt):
        return st.tuples(_base(spec, fmt), st.sampled_from(spec.reductions)).map(lambda cr: cr[0].with_kwargs(
            reduction=cr[1]))

    return inputs


def generic_rows(spec: LossSpec) -> list[EdgeCase]:
    rows = []
    for reduction in spec.reductions:
        if reduction == "none":
            expect, why = Empty(), "an empty batch has no terms"
        elif reduction == "sum":
            expect, why = exactly(0.0, "0"), "an empty sum is 0"
        else:
            expect, why = nan("NaN"), f"'{reduction}' of an empty batch is 0/0 (torch documents NaN; pytorch#50224)"
        rows.append(EdgeCase(spec.name, f"empty_batch-{reduction}", _transformed(spec, cut(0), reduction), expect, why,
                             condition="empty_batch", variant=spec.variants[0]))
    rows.append(EdgeCase(spec.name, "nan_propagates", _transformed(spec, poke(np.nan)), agrees(),
                         "a term that depends on a NaN is NaN; the others are unaffected", condition="nan",
                         variant=spec.variants[0]))
    rows.append(EdgeCase(spec.name, "subnormal_inputs", lambda fmt: _subnormal(spec, fmt), agrees(),
                         "subnormal inputs are ordinary numbers (the model's underflow floor applies)"))
    # one row per layout of (up to) 3-d arrays, every positional tensor in it; channels-last (4-d only) is
    # drawn per argument in every check instead, as every layout is (properties.layouts.laid_out)
    # short cases only, as every check draws layouts (properties.layouts.LONG_CONTIGUOUS: torch sums a long
    # strided dimension one element after the other, known deviation torch_sum_of_expanded_tensor_accumulates_sequentially)
    short = lambda fmt: _with_reduction(spec)(fmt).filter(lambda case: not is_long(case))
    for layout in (lay for lay in LAYOUTS if lay.when((2, 2, 2))):
        rows.append(EdgeCase(spec.name, f"layout-{layout.name}", short, agrees(),
                             "a loss does not depend on the memory layout of its inputs", layout=layout))
    return rows
