"""Edge conditions crossed with every parameter variant, by construction (issue 19).

An *edge condition* (a NaN, +-inf, an all-zero prediction, an empty batch, a batch of one, every
target ignored) is a transformation of a case, not a hand-written input: it is applied to a case
drawn from *any* variant's strategy (``spec.cases(variant, fmt)``), so the condition meets every
parameter the contract allows -- class weights, ``ignore_index``, label smoothing, ``pos_weight``,
``log_target``, ``swap`` ... -- and every reduction (drawn per example from ``spec.reductions``).
A -inf logit therefore lands next to an ignored target, a NaN next to a smoothed one, an empty
batch under class weights: the combinations where masked and reduced losses break (a mask applied
*after* ``log`` turns ``0 * -inf`` into NaN; a weighted mean over no target divides 0 by 0).

Each (condition, variant) pair the contract allows is one row ``<condition>+<variant>`` of the
loss's edge-case table (the variant is in the test id, the reduction is drawn): one row per pair,
so every pair is reached in every run (``edge_variant_pairs``; tests/gate/test_edge_cases.py measures
it).  The pair (condition, first variant) of a condition that a generic row already reaches
(``nan_propagates``, ``empty_batch-<reduction>``) is that row.

The expectation is the reference on the transformed case (``expect.agrees``): it is exact where
the mathematics gives a non-finite or empty value -- NaN propagates, -log 0 = inf, an empty sum
is 0, an empty or all-ignored mean is 0/0 = NaN (torch documents it; pytorch#50224, #116349) --
and it carries the NaN pattern, so a NaN that leaks into a term whose inputs are finite, or a
finite number where the mathematics is NaN, fails.  Where the reference refuses the case
(ValueError), raising is right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st

from ..cases import Case
from ..spec import LossSpec
from .expect import agrees
from ..known import KnownDeviation
from .row import EdgeCase


def value_args(spec: LossSpec, case: Case) -> list[str]:
    """The floating positional arguments that hold values (not class indices, not +-1 labels)."""
    return [k for k, v in case.args.items() if v.dtype.kind == "f" and k not in spec.label_args]


def poke(fill: float, prediction_only: bool = False):
    """One element of one value argument (both drawn; ``prediction_only``: of the first, the
    prediction -- a target has a domain of its own) becomes ``fill``."""

    def transform(draw, spec: LossSpec, case: Case, fmt) -> Case:
        names = [k for k in value_args(spec, case)[:1 if prediction_only else None] if case.args[k].size]
        assume(names)
        name = draw(st.sampled_from(names), label="argument")
        v = case.args[name].copy()
        v.flat[draw(st.integers(0, v.size - 1), label="position")] = fill
        return Case({**case.args, name: v}, case.kwargs)

    return transform


def _batch_args(spec: LossSpec, case: Case) -> set[str]:
    """The positional arguments that carry the batch axis: every one with dimensions (labels of a lower
    rank included) -- but of an elementwise pair that broadcasts (``properties.broadcast``: mse's (N, 3)
    input against a (3,) or (1, 3) target) only those of the full rank and batch size, the others
    broadcasting against any batch, an empty one included."""
    from ..broadcast import BROADCASTS

    arrays = {k: v for k, v in case.args.items() if isinstance(v, np.ndarray) and v.ndim}
    if spec.name not in BROADCASTS or not arrays:
        return set(arrays)
    full = max(v.ndim for v in arrays.values())
    size = max(v.shape[0] for v in arrays.values() if v.ndim == full)
    return {k for k, v in arrays.items() if v.ndim == full and v.shape[0] == size}


def cut(stop: int):
    """The first ``stop`` samples of every batched argument (0: an empty batch, 1: a batch of one),
    and of every keyword array with the first argument's rank and batch size (elementwise weights;
    class weights and ``pos_weight`` of a batched input have a lower rank and stay)."""

    def transform(draw, spec: LossSpec, case: Case, fmt) -> Case:
        first = next(iter(case.args.values()))
        assume(first.ndim > spec.event_dims)  # an unbatched input has no batch to cut
        cuts = _batch_args(spec, case)
        assume(next(iter(case.args)) in cuts)
        batched = lambda v: isinstance(v, np.ndarray) and v.ndim == first.ndim and v.shape[:1] == first.shape[:1]
        cut = Case({k: v[:stop] if k in cuts else v for k, v in case.args.items()},
                   {k: v[:stop] if batched(v) else v for k, v in case.kwargs.items()})
        if stop == 0:  # a batch-pooled loss (Dice with batch=True) still has per-class terms: not empty
            assume(spec.call_reference(cut, reduction="none").size == 0)
        return cut

    return transform


def _zero_prediction(draw, spec: LossSpec, case: Case, fmt) -> Case:
    """The first value argument (the prediction: logits, probabilities, an embedding) all zeros."""
    name = value_args(spec, case)[0]
    return Case({**case.args, name: np.zeros_like(case.args[name])}, case.kwargs)


def _all_ignored(draw, spec: LossSpec, case: Case, fmt) -> Case:
    """Every class-index target equal to ``ignore_index`` (the variant's, else the default -100)."""
    t = case.args["target"]
    return Case({**case.args, "target": np.full_like(t, case.kwargs.get("ignore_index", -100))}, case.kwargs)


def _has(pred):
    return lambda spec, case: any(pred(case.args[k]).any() for k in value_args(spec, case))


@dataclass(frozen=True)
class EdgeCondition:
    """``transform(draw, spec, case, fmt) -> Case``: the condition applied to a drawn case;
    ``holds(spec, case)``: whether a case shows it (the reach measure); ``applies(spec, variant)``:
    whether the contract allows it in the variant; ``why``: the mathematics the reference gives."""

    name: str
    transform: Callable
    holds: Callable[[LossSpec, Case], bool]
    why: str
    applies: Callable[[LossSpec, str], bool] = lambda spec, variant: True
    #: the generic row that is this condition's pair with the first variant (None: none)
    generic: str | None = None
    #: an infinite input: NaN is also accepted where the reference's value is +-inf (``expect.Value``)
    infinite: bool = False


#: losses whose value at an infinite prediction the contract leaves open (NaN accepted where the
#: limit needs inf - inf): their hand-written rows check it with ``nan_ok`` (``infinite_logits``,
#: the KL ``neg_inf`` rows); the reference's NaN there is no expectation to hold another
#: implementation's limit to, so the +-inf conditions are not crossed for them
INFINITY_BY_TABLE = {
    "bce_with_logits": "softplus(-x) + (1 - t) x at x = +-inf is inf - inf for fractional t (row infinite_logits)",
    "focal": "BCE with logits times (1 - p_t)^gamma: the same inf - inf (row infinite_logits)",
    "kl_div": "t (log t - x) at x = -inf, t = 0 is 0 * inf (rows zero_target-neg_inf_input, neg_inf_input-*)",
    "triplet_margin": "d(a, p) - d(a, n) is inf - inf when the infinite element is the anchor's",
}


def _finite_limit(spec: LossSpec, variant: str) -> bool:
    return spec.name not in INFINITY_BY_TABLE


def _index_target_variant(spec: LossSpec, variant: str) -> bool:
    return spec.name == "cross_entropy" and not variant.startswith("prob")


CONDITIONS = (
    EdgeCondition("nan", poke(np.nan), _has(np.isnan),
                  "a term that depends on a NaN is NaN, every other term is unaffected", generic="nan_propagates"),
    EdgeCondition("pos_inf", poke(np.inf, prediction_only=True), _has(np.isposinf),
                  "the limit where the mathematics has one (an infinite logit's class has probability 1); NaN is "
                  "also accepted where the limit is infinite (inf - inf in finite arithmetic, as in the tables' "
                  "infinite-logit rows), never where it is finite: an ignored term stays 0",
                  applies=_finite_limit, infinite=True),
    EdgeCondition("neg_inf", poke(-np.inf, prediction_only=True), _has(np.isneginf),
                  "a masked logit has probability 0 (-log 0 = inf, 0 log 0 = 0); NaN is also accepted where the "
                  "limit is infinite, never where it is finite: an ignored term stays 0",
                  applies=_finite_limit, infinite=True),
    EdgeCondition("zero_prediction", _zero_prediction,
                  lambda spec, case: not np.any(case.args[value_args(spec, case)[0]]),
                  "an all-zero prediction (logits 0, probability 0, a zero vector) is an ordinary input"),
    EdgeCondition("empty_batch", cut(0), lambda spec, case: next(iter(case.args.values())).size == 0,
                  "an empty batch has no terms: 'none' is empty, 'sum' is 0, a mean is 0/0 = NaN "
                  "(pytorch#50224)", generic="empty_batch"),
    EdgeCondition("batch_1", cut(1), lambda spec, case: next(iter(case.args.values())).shape[:1] == (1,),
                  "a batch of one sample: the reduction of one term"),
    EdgeCondition("all_ignored", _all_ignored,
                  lambda spec, case: bool(np.all(case.args["target"] == case.kwargs.get("ignore_index", -100))),
                  "an ignored target contributes 0 (label smoothing included, pytorch#73205): 'sum' is 0, the "
                  "weighted mean over no target is 0/0 = NaN (pytorch#116349)", applies=_index_target_variant),
)


def allowed_pairs(spec: LossSpec) -> list[tuple[str, str]]:
    """Every (edge condition, variant) pair the contract of ``spec`` allows."""
    return [(c.name, v) for c in CONDITIONS for v in spec.variants if c.applies(spec, v)]


def transformed_cases(spec: LossSpec, transform, variant: str, reduction: str | None = None):
    """``inputs(fmt)``: ``variant``'s cases under an edge-condition ``transform``, with ``reduction``
    (None: drawn from the loss's reductions)."""

    def inputs(fmt):
        @st.composite
        def draw_case(draw):
            case = transform(draw, spec, draw(spec.cases(variant, fmt), label="case"), fmt)
            return case.with_kwargs(reduction=reduction or draw(st.sampled_from(spec.reductions), label="reduction"))

        return draw_case()

    return inputs


def crossed_rows(spec: LossSpec, known: dict[tuple[str, str, str], tuple[KnownDeviation, ...]]) -> list[EdgeCase]:
    """The rows ``<condition>+<variant>`` of ``spec``: every allowed pair that no generic row reaches
    (``known``: recorded known failures by (loss, condition, variant))."""
    rows = []
    by_name = {c.name: c for c in CONDITIONS}
    for name, variant in allowed_pairs(spec):
        condition = by_name[name]
        if condition.generic and variant == spec.variants[0]:
            continue  # the generic row is this pair
        rows.append(EdgeCase(spec.name, f"{name}+{variant}", transformed_cases(spec, condition.transform, variant),
                             agrees(nan_for_infinite=condition.infinite),
                             condition.why, known_failures=known.get((spec.name, name, variant), ()), condition=name,
                             variant=variant))
    return rows


def edge_variant_pairs(rows: list[EdgeCase]) -> list[tuple[str, str]]:
    """The (edge condition, variant) pairs the rows of one loss's table reach."""
    return [(r.condition, r.variant) for r in rows if r.condition]
