"""Cross-entropy (``torch.nn.functional.cross_entropy``), reference ``refimpl.cross_entropy``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import numpy as np
import torch
from hypothesis import assume, strategies as st
from scipy.special import logsumexp, xlogy

import refimpl
from refimpl.cross_entropy import _class_axis, neg_log_softmax_parts

from .. import bad_inputs as BI, finite_differences as FD, gradients as G, strategies as S
from ..agreement import bound_for
from ..cases import SCALAR_RULES, Case
from ..edge_cases.expect import exactly, nan, value
from ..edge_cases.tables import INF, KERAS_CE, TORCH_F, A, arg, rows
from ..formats import log2_ceil
from ..invariants.core import Claim, Q, exact_or_reject
from ..invariants.kinds import (
    equal,
    lattice,
    nonnegative,
    two_adic_exponent,
    with_kwargs_equal,
)
from ..invariants.tables import U64, inv, structure
from ..known import CaseDeviation, KnownFailure, Refusal
from ..spec import LossSpec

MAX_BATCH, MAX_CLASSES = 6, 6


#: the optional parameters each target kind takes (ignore_index applies to class indices only)
CE_PARAMETERS = {"index": ("weight", "ignore_index", "label_smoothing"), "prob": ("weight", "label_smoothing")}


def _parameter_sets(kind: str) -> list[str]:
    """``kind`` and every subset of its parameters: ``index``, ``weight``, ..., ``prob-weight-label_smoothing``."""
    params = CE_PARAMETERS[kind]
    subsets = [c for r in range(1, len(params) + 1) for c in combinations(params, r)]
    prefix = "" if kind == "index" else "prob-"
    return [kind] + [prefix + "-".join(c) for c in subsets]


#: one variant per target kind x subset of its parameters (12): every combination the contract
#: allows has its own tests; the shape kind is drawn per case within each (``CE_SHAPE_KINDS``)
CE_VARIANTS = tuple(_parameter_sets("index") + _parameter_sets("prob"))


#: the input layouts of the contract: (N, C), (N, C, d1..dk), (C,) -- drawn in every variant
CE_SHAPE_KINDS = ("batch", "spatial", "no_batch")


def ce_shape_kind(case: Case) -> str:
    x = case.args["input"]
    return "no_batch" if x.ndim == 1 else "batch" if x.ndim == 2 else "spatial"


def _logit_cap(fmt, n_classes, count):
    # -log_softmax <= 2 max|x| + log C; a label-smoothed term sums C of them, a 'sum' ``count`` terms
    return min(1e30, fmt.headroom_cap(count=4 * n_classes * count))


#: torch's cross-entropy 'mean' (nll_loss) sums the terms in the input dtype before dividing: in float16 it
#: is inf where the mean fits (known deviation cross_entropy_half_mean_overflows), so a 'mean' is drawn as
#: a sum is
_CE_MEAN_LIKE = ("none",)


@st.composite
def _ce_cases(draw, variant, fmt, reduction=None):
    feats = set(variant.split("-"))
    # a weighted term is up to 1e2 times the unweighted one, and at least log C whatever the logits (a
    # label-smoothed or probability target): a 'sum' keeps at most max / (1e2 (1 + log C)) terms finite
    gain = 1e2 if "weight" in feats else 1.0
    limit = math.inf if reduction in _CE_MEAN_LIKE else fmt.headroom_cap() / (gain * (1 + math.log(MAX_CLASSES)))
    n_long = draw(S.long_terms(limit))
    n_classes = draw(st.integers(1, MAX_CLASSES))
    kind = draw(st.sampled_from(CE_SHAPE_KINDS))
    if kind == "no_batch" and n_long:  # one sample is one term: a long example has a batch
        kind = "batch"
    if kind == "no_batch":
        shape, axis = (n_classes,), 0
    elif kind == "spatial":
        shape = (draw(st.integers(1, 3)), n_classes, *draw(S.shapes(1, 2, 1, 3)))
        axis = 1
    else:
        shape, axis = (draw(st.integers(1, MAX_BATCH)), n_classes), 1
    n = int(np.prod(shape)) // n_classes
    per_row = n // shape[0] if axis else 1
    rows, seed = draw(S.extension(n_long, per_row))
    cap = _logit_cap(fmt, n_classes, S.summed_count(reduction, max(n, rows * per_row), _CE_MEAN_LIKE, fmt=fmt, gain=gain))
    x = draw(S.array(shape, S.reals(1e-3, cap)))
    kwargs = {}
    if "weight" in feats:
        kwargs["weight"] = draw(S.array((n_classes,), S.log_uniform(1e-2, 1e2)))
    if "label_smoothing" in feats:
        kwargs["label_smoothing"] = draw(st.one_of(st.sampled_from([1.0]), st.floats(0.0, 1.0)))
    if "prob" in feats:
        t = draw(S.probability_rows(shape, axis))
    else:
        tshape = shape[:axis] + shape[axis + 1 :]
        t = draw(S.array(tshape, st.integers(0, n_classes - 1), dtype=np.int64))
        if "ignore_index" in feats:
            ignore = draw(st.sampled_from([-100, draw(st.integers(0, n_classes - 1))]))
            mask = draw(S.array(tshape, st.booleans(), dtype=bool))
            t = np.where(mask, ignore, t)
            kwargs["ignore_index"] = ignore
    if axis:  # a long example: more samples along the batch axis
        x, t = S.lengthen([x, t], rows, seed)
    return Case({"input": x, "target": t}, kwargs)


def _ce_terms(case: Case) -> int:
    """One term per sample and spatial position: the elements over the classes."""
    x = case.args["input"]
    return x.size // x.shape[0 if x.ndim == 1 else 1] if x.size else 0


def _ce_denominator(case, terms, reduction):
    x, t = case.args["input"], case.args["target"]
    if t.dtype.kind == "f":
        return float(x.size // x.shape[0 if x.ndim == 1 else 1])
    valid = t != case.kwargs.get("ignore_index", -100)
    w = case.kwargs.get("weight")
    return float(np.sum(valid)) if w is None else float(np.sum(np.where(valid, w[np.where(valid, t, 0)], 0.0)))


def _without_ignore_index(case, default):
    """For an implementation without ``ignore_index``: targets that the case ignores (at its
    ``ignore_index``, or the default -100) become class 0; a valid class index stays as it is."""
    t = case.args["target"]
    if t.dtype.kind == "f":
        return case
    n_classes = case.args["input"].shape[0 if case.args["input"].ndim == 1 else 1]
    ignored = case.kwargs.get("ignore_index", default)
    if 0 <= ignored < n_classes:
        return case
    return Case({**case.args, "target": np.where(t == ignored, 0, t)}, case.kwargs)


def _lse_budget(x: np.ndarray, axis: int):
    """Budget of -log_softmax(x)_c per entry, and the parts it is built from.

    torch computes d = x - max (error u|d_c|), exp (relative u|d_c| + 2u),
    a sum over C (depth L_C), log (2u) and the final subtraction; the error of
    the log-sum is the softmax-weighted mean of the exp errors:
        budget_c = |d_c| + l + R + L_C + 6,   R = sum_c softmax_c |d_c|,
    with l = log1p(sum_{j != argmax} exp(d_j)) as in the reference.  A masked class (logit -inf,
    d_c = -inf) has exp(d_c) = 0 exactly: it adds no error to the log-sum (its p_c |d_c| term is 0,
    not 0 * inf = NaN, which the bound would read as a budget of 0 for every class of the row).
    """
    d, l = neg_log_softmax_parts(x, axis)
    p = np.exp(d - l)
    with np.errstate(invalid="ignore"):
        r = np.sum(np.where(p > 0, p * np.abs(d), 0.0), axis=axis, keepdims=True)
    return np.abs(d) + l + r + log2_ceil(x.shape[axis]) + 6, d, l


def _label_smoothing_as_computed(value: float, case: Case, scalar) -> float:
    """torch (and Keras) smooth with ``label_smoothing / C`` formed in the scalar type (ATen LossNLL.cpp:
    ``target * (1 - label_smoothing) + label_smoothing / n_classes``): where that underflows to 0 the
    smoothing is 0 -- a masked class (logit -inf) of target probability 0 then gives a finite loss, not
    inf (float32: label_smoothing 1.4e-45 over 6 classes)."""
    x = case.args["input"]
    n_classes = x.shape[0 if x.ndim == 1 else 1] if x.ndim else 1
    return 0.0 if n_classes and scalar(value / n_classes) == 0 else float(scalar(value))


SCALAR_RULES["label_smoothing"] = _label_smoothing_as_computed


def scale_cross_entropy(case: Case, terms):
    """Index targets: (1-eps) w_t budget_t + (eps/C) sum_c w_c budget_c (+ L_C |smooth| for its sum);
    probability targets: sum_c w_c q'_c budget_c + (L_C + 3)|t|.  See :func:`_lse_budget`."""
    x = case.args["input"]
    axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[axis]
    b, _, _ = _lse_budget(x, axis)
    w = case.kwargs.get("weight")
    wshape = [1] * x.ndim
    wshape[axis] = n_classes
    w_b = np.ones(wshape) if w is None else np.abs(w).reshape(wshape)
    eps = case.kwargs.get("label_smoothing", 0.0)
    t = case.args["target"]
    lc = log2_ceil(n_classes)
    if t.dtype.kind == "f":
        q = t * (1 - eps) + eps / n_classes if eps > 0 else t
        # a masked class (infinite budget) of probability 0 adds nothing: not 0 * inf = NaN, which left
        # the row the floor's budget (a correct 0 at x = (-inf, 65, 0.001 ...) was 1.7e7 bounds off)
        with np.errstate(invalid="ignore"):
            per_class = np.where(q != 0, np.abs(q) * w_b * b, 0.0)
        return np.sum(per_class, axis=axis) + (lc + 3) * np.abs(terms)
    ignored = t == case.kwargs.get("ignore_index", -100)
    idx = np.expand_dims(np.where(ignored, 0, t), axis)
    nll_b = np.squeeze(np.take_along_axis(w_b * b, idx, axis), axis)
    # without smoothing the smoothing sum is not computed: no budget (0 * an infinite budget of a
    # masked class would be NaN); with it, a masked class makes the term infinite, compared exactly
    smooth_b = np.sum(w_b * b, axis=axis) * (1 + lc / 4) * (eps / n_classes) if eps > 0 else 0.0
    s = (1 - eps) * nll_b + smooth_b + 3 * np.abs(terms)
    return np.where(ignored, 0.0, s)


def nll_cascade_skips_a_flush(case: Case, dtype: str | None = None) -> bool:
    """Whether torch's CPU ``nll_loss`` sums this case's terms out of its cascade (known deviation
    nll_loss_ignored_target_skips_cascade_flush): a reduced ('mean', 'sum') loss of class-index targets
    where a target at a cascade boundary is ignored while terms follow it.

    ``nll_loss_out_frame`` (aten/src/ATen/native/LossNLL.cpp) and ``nll_loss2d_forward_out_frame``
    (LossNLL2d.cpp) add the terms in the targets' C order into a cascade of 8 partial sums, flushing
    level j into level j + 1 after the term at linear index b when b is a multiple of 2^(p (j + 1)),
    p = max(4, ceil(log2 n) // 8); an ignored target ``continue``s past the flush, so its partial sum
    keeps growing one term at a time (pytorch#55657, PR #55841).  The loss's terms and, with class
    weights, the total weight a 'mean' and its backward divide by, are affected."""
    t = case.args["target"]
    if t.dtype.kind == "f" or case.kwargs.get("reduction", "mean") == "none" or t.size < 2:
        return False
    ignored = (np.asarray(t) == case.kwargs.get("ignore_index", -100)).ravel()
    step = 1 << max(4, log2_ceil(ignored.size) // 8)
    from_here = np.flip(np.logical_or.accumulate(np.flip(~ignored)))  # a term at or after each index
    followed = np.append(from_here[1:], False)  # a term after each index
    return bool((ignored & followed)[step::step].any())


def _nll_cascade_weighted_mean(case: Case, dtype: str | None = None) -> bool:
    """The cascade's region (:func:`nll_cascade_skips_a_flush`) of a class-weighted 'mean': the backward
    divides by the total weight the forward summed there."""
    return case.kwargs.get("weight") is not None and case.kwargs.get("reduction", "mean") == "mean" \
        and nll_cascade_skips_a_flush(case, dtype)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="cross_entropy", reference=refimpl.cross_entropy, arg_names=("input", "target"),
    torch_function="torch.nn.functional.cross_entropy", cases=_ce_cases, variants=CE_VARIANTS,
    scale=scale_cross_entropy, denominator=_ce_denominator,
    event_dims=1, without={"ignore_index": _without_ignore_index}, shape_kind=ce_shape_kind, sum_length=_ce_terms,
    mirrors="index and probability targets; input (C,), (N,C), (N,C,d1..dk); weight; ignore_index; "
    "label_smoothing (both target kinds); reduction (weighted mean / sum of non-ignored weights)",
    gap=lambda args, kw: None,  # logits and class probabilities are not a pair the formula subtracts
    builtin_deviations=(
        CaseDeviation("nll_loss_ignored_target_skips_cascade_flush", "agreement", nll_cascade_skips_a_flush,
                      why="an ignored target at a boundary of nll_loss's cascade sum: the flush is skipped",
                      devices=("cpu",)),
        CaseDeviation("nll_loss_ignored_target_skips_cascade_flush", "gradient", _nll_cascade_weighted_mean,
                      why="the same, class-weighted 'mean': the total weight the backward divides by",
                      devices=("cpu",)),
    ),
)


# ---- edge-case rows ------------------------------------------------------------------------

X3 = A([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _ce_index(x, t):
    """-log softmax(x)[t] = logsumexp(x) - x_t, row by row (class dim 1)."""
    return logsumexp(x, axis=1) - np.take_along_axis(x, t[:, None], 1)[:, 0]


def _ce_case(x, t, **kw):
    return Case({"input": A(x, dtype=float), "target": A(t)}, {"reduction": "none", **kw})


def _ce_finite_classes_tol(ctx, want):
    """The model's bound for the same rows with the -inf logit's class removed (an infinite
    input makes the budget infinite; a masked class contributes nothing to the value)."""
    x = arg(ctx, "input")
    keep = ~np.any(np.isneginf(x), axis=0)
    t = arg(ctx, "target")
    case = Case({"input": x[:, keep], "target": (t[:, keep] if t.dtype.kind == "f" else t - np.cumsum(~keep)[t])},
                ctx.case.kwargs)
    return bound_for(ctx.spec, ctx.fmt, case, ctx.reduction, want)


#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "cross_entropy",
    ("all_ignored-none", _ce_case(X3, [-100, -100]), exactly([0.0, 0.0], "zeros"),
     "an ignored target contributes 0"),
    ("all_ignored-mean", _ce_case(X3, [-100, -100], reduction="mean"), nan(),
     "weighted mean over no non-ignored target is 0/0 (pytorch#116349: expected behaviour)"),
    ("all_ignored-sum", _ce_case(X3, [-100, -100], reduction="sum"), exactly(0.0, "0"), "an empty sum is 0"),
    ("all_ignored-label_smoothing-mean", _ce_case(X3, [-100, -100], reduction="mean", label_smoothing=0.25), nan(),
     "ignored targets are excluded from the smoothing term too (pytorch#73205); 0/0"),
    ("ignore_index_in_range", _ce_case(X3, [1, 2], ignore_index=2),
     value(lambda ctx: [_ce_index(arg(ctx, "input"), A([1, 2]))[0], 0.0], "[-log p_1, 0]"),
     "a target equal to ignore_index (a valid class here) is ignored"),
    ("ignore_index_out_of_range", _ce_case(X3, [7, 0], ignore_index=7),
     value(lambda ctx: [0.0, _ce_index(arg(ctx, "input"), A([0, 0]))[1]], "[0, -log p_0]"),
     "ignore_index need not be a class; matching targets are ignored"),
    ("one_class", _ce_case([[0.5], [-1.5]], [0, 0]), exactly([0.0, 0.0], "zeros"),
     "with C = 1, softmax is 1 and -log 1 = 0"),
    ("one_class-label_smoothing_1", _ce_case([[0.5], [-1.5]], [0, 0], label_smoothing=1.0),
     exactly([0.0, 0.0], "zeros"), "the uniform distribution over one class is that class"),
    ("label_smoothing_0", _ce_case(X3, [2, 0], label_smoothing=0.0),
     value(lambda ctx: _ce_index(arg(ctx, "input"), A([2, 0])), "logsumexp(x) - x_t"),
     "no smoothing: plain cross-entropy"),
    ("label_smoothing_1", _ce_case(X3, [2, 0], label_smoothing=1.0),
     value(lambda ctx: logsumexp(arg(ctx, "input"), axis=1) - arg(ctx, "input").mean(axis=1),
           "logsumexp(x) - mean(x)"),
     "full smoothing: cross-entropy against the uniform distribution, whatever the target"),
    ("one_hot_probability_targets", _ce_case(X3, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
     value(lambda ctx: _ce_index(arg(ctx, "input"), A([2, 0])), "the index-target loss"),
     "a one-hot distribution is its class index (no weight: see pytorch#107680 for weighted means)"),
    ("saturated_logits-right", _ce_case([[1e4, 0.0, 0.0], [0.0, -1e4, 0.0]], [0, 0]),
     value(lambda ctx: _ce_index(arg(ctx, "input"), A([0, 0])), "[~0, log 2]"),
     "exp(-1e4) underflows; the loss of a confident right prediction is ~0, stably"),
    ("saturated_logits-wrong", _ce_case([[0.0, 1e4, 0.0], [-1e4, 0.0, 0.0]], [0, 0]),
     value(lambda ctx: _ce_index(arg(ctx, "input"), A([0, 0])), "[1e4, 1e4 + log 2]"),
     "no overflow: logsumexp is shifted by the maximum"),
    ("inf_logit-target_class", _ce_case([[INF, 0.0, 0.0]], [0]), value(0.0 * np.ones(1), "0 (or NaN)", nan_ok=True),
     "the limit is 0; inf - inf has no value in finite arithmetic, so NaN is also accepted"),
    ("inf_logit-other_class", _ce_case([[0.0, INF, 0.0]], [0]), value(A([INF]), "inf (or NaN)", nan_ok=True),
     "the limit is +inf (probability 0 for the target); NaN is also accepted"),
    ("neg_inf_logit-target_class", _ce_case([[-INF, 0.0, 0.0]], [0]), exactly([INF], "inf"),
     "a masked target class has probability 0: -log 0 = inf"),
    ("neg_inf_logit-other_class", _ce_case([[0.5, -INF, 2.0]], [0]),
     value(lambda ctx: _ce_index(arg(ctx, "input")[:, [0, 2]], A([0])), "logsumexp over the finite classes - x_t",
           tol=_ce_finite_classes_tol),
     "a masked class (logit -inf) has probability 0 and drops out of the softmax"),
    ("neg_inf_logit-probability_target_zero", _ce_case([[0.5, -INF, 2.0]], [[0.25, 0.0, 0.75]]),
     value(lambda ctx: (lambda x: (0.25 * _ce_index(x, A([0])) + 0.75 * _ce_index(x, A([1]))))(
         arg(ctx, "input")[:, [0, 2]]), "the loss over the finite classes", tol=_ce_finite_classes_tol),
     "q = 0 on a masked class: 0 * log 0 = 0 (the xlogy convention)",
     {"known_failures": (KnownFailure("cross_entropy_masked_logit_probability_target", TORCH_F + "cross_entropy"),
                         KnownFailure("keras_cross_entropy_masked_logit_probability_target", KERAS_CE))}),
    ("k_dimensional", Case({"input": np.arange(24, dtype=float).reshape(2, 3, 2, 2) / 8 - 1.5,
                            "target": A([[[0, 1], [2, 0]], [[1, 1], [2, 2]]])}, {"reduction": "none"}),
     value(lambda ctx: _ce_index(np.moveaxis(arg(ctx, "input"), 1, -1).reshape(-1, 3),
                                 arg(ctx, "target").reshape(-1)).reshape(2, 2, 2), "per-position -log p_t"),
     "(N, C, d1, d2): the class dim is 1, the loss is per position"),
    ("no_batch_dim", Case({"input": A([0.5, -1.0, 2.0]), "target": A(2)}, {"reduction": "none"}),
     value(lambda ctx: _ce_index(arg(ctx, "input")[None], A([2]))[0], "a 0-d loss"),
     "a (C,) input with a 0-d target is one sample"),
)


# ---- invariants --------------------------------------------------------------------------

def _ce_axis(x):
    return 0 if x.ndim == 1 else 1


@st.composite
def _ce_lattice_cases(draw, spec, fmt):
    """The loss's own cases (every variant) with logits on a lattice k 2^e: a per-sample shift by a
    multiple of 2^e is exact."""
    variant = draw(st.sampled_from(spec.variants))
    case = draw(spec.cases(variant, fmt))
    x = case.args["input"]
    n_classes = x.shape[_ce_axis(x)]
    cap = min(1e30, fmt.headroom_cap(count=4 * n_classes * max(1, x.size // n_classes)))
    return Case({**case.args, "input": draw(lattice(x.shape, fmt, cap))}, case.kwargs)


def _ce_shift(ev, case, draw):
    x = case.args["input"]
    axis = _ce_axis(x)
    e = two_adic_exponent(x)
    e = -4 if e is None else e
    k_max = 2 ** (ev.fmt.precision - 2)
    sample_shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    c = draw(S.long_array(int(np.prod(sample_shape)), st.integers(-k_max, k_max)), "shift multiples").astype(np.float64)
    shift = c.reshape(sample_shape) * 2.0 ** e
    return {"case": case, "shifted": exact_or_reject(ev, Case({**case.args, "input": x + shift}, case.kwargs))}


@st.composite
def _ce_optimum_cases(draw, spec, fmt):
    """Positive probability rows q (entries ≥ 16 · tiny of the format) and logits log q rounded later."""
    n_classes = draw(st.integers(1, 6))
    shape = (n_classes,) if draw(st.booleans()) else (draw(st.integers(1, 6)), n_classes)
    axis = _ce_axis(np.empty(shape))
    raw = draw(S.array(shape, S.log_uniform(max(1e-12, 16 * fmt.tiny), 1.0)))
    q = raw / raw.sum(axis=axis, keepdims=True)
    return Case({"input": np.zeros(shape), "target": q})


def _ce_at_optimum(ev, case, draw):
    q = case.args["target"]
    assume(np.all(q > 0))
    logq = np.log(q)
    x_d = Case({"input": logq}).rounded(ev.dtype).args["input"]
    assume(np.all(np.isfinite(x_d)))
    return {"case": Case({"input": x_d, "target": q}), "logq": logq, "x": x_d}


def _ce_entropy_side(ev, c):
    """-Σ q log q + s log s per sample (s = Σ q; = H(q) when s = 1), with the model's float64 bound."""
    q = c["case"].args["target"]
    axis = _ce_axis(q)
    terms = -xlogy(q, q)
    s = np.sum(q, axis=axis)
    value = np.sum(terms, axis=axis) + xlogy(s, s)
    n = q.shape[axis]
    # float64 evaluation: each -q log q 3 roundings, the sum depth ceil(log2 C), s log s: s's sum and the log
    budget = np.sum(3 * np.abs(terms) + log2_ceil(n) * np.abs(terms), axis=axis) + (log2_ceil(n) + 3) * s
    return Q.closed_form(value, 2 * U64 * budget + U64 * np.abs(value), "-Σ q log q + s log s")


def _ce_optimum_slack(ev, c):
    """|CE(x + δ, q) − CE(x, q)| ≤ 2 s max_c |δ_c| (the gradient s·softmax − q has L1 norm ≤ 2s)."""
    q = c["case"].args["target"]
    axis = _ce_axis(q)
    delta = np.abs(c["x"] - c["logq"]) + 2 * U64 * np.abs(c["logq"])
    return 2 * np.sum(q, axis=axis) * np.max(delta, axis=axis)


def _one_hot(case: Case) -> Case:
    x, t = case.args["input"], case.args["target"]
    axis = _ce_axis(x)
    n_classes = x.shape[axis]
    oh = np.moveaxis(np.eye(n_classes)[t], -1, axis)
    return Case({"input": x, "target": oh}, case.kwargs)


def _ce_one_hot_reductions(case):
    return ("none", "sum") if "weight" in case.kwargs else ("none", "mean")


def _ce_one_hot(ev, case, draw):
    oh = _one_hot(case)
    return [Claim("==", ev(oh, r, label=f"cross_entropy(x, one_hot(t), {r})"),
                  ev(case, r, label=f"cross_entropy(x, t, {r})"), f"one-hot probability targets == index targets ({r})")
            for r in _ce_one_hot_reductions(case)]


def _ce_smoothing_mixture(ev, case, draw):
    """CE_ε(x, t) = (1−ε) CE(x, onehot t) + (ε/C) CE(x, 1): CE is linear in a probability target."""
    eps = Fraction(float(case.kwargs["label_smoothing"]))
    x = case.args["input"]
    n_classes = x.shape[_ce_axis(x)]
    plain = {k: v for k, v in case.kwargs.items() if k != "label_smoothing"}
    oh = Case(_one_hot(case).args, plain)
    ones = Case({"input": x, "target": np.ones_like(x)}, plain)
    claims = []
    for r in ("none", "mean"):
        lhs = ev(case, r, label=f"cross_entropy(x, t, label_smoothing=ε, {r})")
        rhs = ev(oh, r, label="CE(x, one_hot(t))").scale(1 - eps, "(1−ε) CE(x, one_hot t)") + \
            ev(ones, r, label="CE(x, ones)").scale(eps / n_classes, "(ε/C) CE(x, ones)")
        claims.append(Claim("==", lhs, rhs, f"label smoothing == mixture with the uniform distribution ({r})"))
    return claims


# Known deviation NOT tested as an invariant: one-hot probability targets equal index targets only without a
# weight under reduction='mean' -- with a weight, index targets divide by the sum of the targets' weights and
# probability targets by N (cross_entropy_one_hot_vs_index_weighted_mean, pytorch#107680); one_hot_vs_index
# covers the weighted case under 'none' and 'sum' only.
#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("cross_entropy", "nonnegative", "−Σ_c q_c log softmax(x)_c ≥ 0 (index: −w_t log p_t)",
         "targets and weights ≥ 0", nonnegative()),
    *structure("cross_entropy", what="every variant (mean: non-empty denominator); the batch relations on "
                "cases with a batch axis"),
    inv("cross_entropy", "shift_invariance", "CE(x + c·1, t) = CE(x, t) for a per-sample constant c",
         "any target kind, weight, ignore_index, label_smoothing; x and x + c exact (logits on a lattice k·2^e)",
         equal(lambda ev, c: ev(c["shifted"], "none", label="CE(x + c)"),
               lambda ev, c: ev(c["case"], "none", label="CE(x)"), "CE(x + c) == CE(x), every sample",
               prepare=_ce_shift), cases=_ce_lattice_cases),
    inv("cross_entropy", "entropy_at_optimum", "CE(log q, q) = −Σ q log q + s log s (= H(q) when s = Σq = 1)",
         "probability targets q > 0, no weight, no smoothing; logits log q rounded to the dtype: slack "
         "2 s max|δ| (CE's gradient s·softmax − q has L1 norm ≤ 2s)",
         equal(lambda ev, c: ev(c["case"], "none", label="CE(log q, q)"), _ce_entropy_side,
               "CE(log q, q) == H(q) + s log s, every sample", prepare=_ce_at_optimum, slack=_ce_optimum_slack),
         cases=_ce_optimum_cases),
    inv("cross_entropy", "one_hot_equals_index", "CE(x, one_hot(t)) = CE(x, t)",
         "no weight: reductions none and mean; with weight: none and sum only (weighted mean differs: known "
         "deviation cross_entropy_one_hot_vs_index_weighted_mean, pytorch#107680); label smoothing either way; "
         "no ignore_index", _ce_one_hot, variants=("index", "weight", "label_smoothing", "weight-label_smoothing")),
    inv("cross_entropy", "label_smoothing_mixture",
         "CE_ε(x, t) = CE(x, (1−ε) one_hot(t) + ε/C) = (1−ε) CE(x, one_hot t) + (ε/C) CE(x, 1)",
         "index targets, no weight, no ignore_index; reductions none and mean", _ce_smoothing_mixture,
         variants=("label_smoothing",)),
    inv("cross_entropy", "weight_of_ones", "CE(x, t, weight=1) = CE(x, t)", "every target kind, all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[_ce_axis(c.args["input"])])},
                           "weight of ones == no weight", reductions=("none", "mean", "sum")),
         variants=("index", "ignore_index", "label_smoothing", "ignore_index-label_smoothing", "prob",
                   "prob-label_smoothing")),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.X, "target": np.array([2, 0])})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("cross_entropy", "target_class_out_of_range", BI.arg("target", lambda t: np.array([3, 0])), IndexError,
             "out of bounds"),
    BI.BadInput("cross_entropy", "target_class_negative", BI.arg("target", lambda t: np.array([-1, 0])), IndexError,
             "out of bounds"),
    BI.BadInput("cross_entropy", "target_batch_mismatch", BI.arg("target", lambda t: t[:1]), ValueError, "shape"),
    BI.BadInput("cross_entropy", "float_target_of_index_shape", BI.arg("target", lambda t: t.astype(float)),
             RuntimeError, "shape"),
    BI.BadInput("cross_entropy", "weight_wrong_size", BI.kw(weight=np.ones(4)), RuntimeError, "weight"),
    BI.BadInput("cross_entropy", "label_smoothing_above_1", BI.kw(label_smoothing=1.5), RuntimeError, "label_smoothing"),
    BI.BadInput("cross_entropy", "label_smoothing_negative", BI.kw(label_smoothing=-0.25), message="label_smoothing",
             **BI.accepts("cross_entropy_negative_label_smoothing_accepted", "cross_entropy")),
    BI.BadInput("cross_entropy", "ignore_index_with_probability_targets",
             lambda c: Case({"input": BI.X, "target": BI.P / BI.P.sum(1, keepdims=True)}, {"ignore_index": 0}),
             RuntimeError, "ignore_index"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """At least one target not ignored: an all-ignored 'mean' is 0/0 (NaN), not a point of the loss."""
    t = case.args["target"]
    ignore = case.kwargs.get("ignore_index", -100)
    if t.dtype.kind == "f" or t.size == 0 or np.any(t != ignore):
        return case
    n_classes = case.args["input"].shape[0 if case.args["input"].ndim == 1 else 1]
    t = t.copy()
    t.flat[0] = (ignore + 1) % n_classes if 0 <= ignore < n_classes else 0
    case = Case({**case.args, "target": t}, case.kwargs)
    # with one class, class 0 may itself be the ignore_index: stop ignoring it
    return case.with_kwargs(ignore_index=-100) if t.flat[0] == ignore else case


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {"weight": Refusal("cross_entropy_index_weight_not_differentiable",
                                lambda case: case.args["target"].dtype.kind != "f")}

SAT = [[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]]
#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("cross_entropy", "saturated_logits", G.fixed_case({"input": SAT, "target": np.array([1, 1, 2])}), ("input",),
                "softmax of |x| = 1e4: exp underflows, the gradient is s - onehot in [-1, 1]"),
    G.GradientRow("cross_entropy", "saturated_logits-label_smoothing",
                G.fixed_case({"input": SAT, "target": np.array([0, 1, 2])}, label_smoothing=0.1), ("input",), "as above"),
    G.GradientRow("cross_entropy", "saturated_logits-probability_targets",
                G.fixed_case({"input": SAT, "target": [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]]}), ("input", "target"),
                "q-weighted softmax gradients; d/dq = -log p is large (1e4) but finite"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _ce_step(case, arg):
    """Softmax depends on logit differences with a unit curvature scale, and the reference's
    rounding is ~u |x|: the optimal step is eps^(1/3) max(1, |x|)^(1/3), at least 1024 ulps
    of x (representable).  Probability targets enter linearly: any step."""
    v = case.args[arg]
    if arg == "target":
        return FD.H0 * np.maximum(np.abs(v), 1.0)
    return np.maximum(FD.H0 * np.cbrt(np.maximum(np.abs(v), 1.0)), 1024 * np.spacing(np.abs(v)))


def _skip_ce(case, arg):
    """A logit that matters (within ~50 of its row's maximum) with a step too coarse for the
    unit curvature scale of softmax (huge logits: x +- h is not resolvable finely enough)."""
    x = case.args["input"]
    if arg != "input":
        return np.zeros(case.args[arg].shape, dtype=bool)
    h = _ce_step(case, arg)
    live = np.max(x, axis=_class_axis(x), keepdims=True) - x < 50 + 8 * h
    return live & (h > 1e-2)


def _term_ce(case, arg, idx):
    axis = _class_axis(case.args["input"])
    return idx[:axis] + idx[axis + 1:]


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.standard_normal((4, 5)), "target": np.array([0, 3, 4, 1])},
                {"weight": rng.uniform(0.05, 0.95, (5,)) * 2, "label_smoothing": 0.2, "ignore_index": 3})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=_ce_step,
    fixed_case=_fd_case,
    dropped={"label_smoothing": 0.0},
    skip=_skip_ce,
    term=_term_ce,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _ce_drops_max(base):
    """log-sum-exp as log Σ exp(x − m) without adding m back: CE − max_c x (not shift invariant)."""
    def call(x, t, **kwargs):
        out = base(x, t, **kwargs)
        if kwargs.get("reduction") == "none":
            out = out - x.amax(dim=0 if x.ndim == 1 else 1)
        return out
    return call


def _ce_prob_mean_over_classes(base):
    """Probability targets: 'mean' divides by N·C (all elements) instead of N."""
    def call(x, t, **kwargs):
        if t.is_floating_point() and kwargs.get("reduction") == "mean":
            return base(x, t, **{**kwargs, "reduction": "sum"}) / t.numel()
        return base(x, t, **kwargs)
    return call


def _ce_smoothing_off_target(base):
    """Label smoothing that spreads ε over the C − 1 wrong classes (ε/(C−1)) instead of all C (ε/C)."""
    def call(x, t, **kwargs):
        eps = kwargs.get("label_smoothing", 0.0)
        axis = 0 if x.ndim == 1 else 1
        c = x.shape[axis]
        if t.is_floating_point() or eps == 0 or c < 2:
            return base(x, t, **kwargs)
        oh = torch.movedim(torch.nn.functional.one_hot(t, c).to(x.dtype), -1, axis)
        q = (1 - eps) * oh + eps / (c - 1) * (1 - oh)
        return base(x, q, **{**kwargs, "label_smoothing": 0.0})
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "shift_invariance": _ce_drops_max,
    "entropy_at_optimum": _ce_drops_max,
    "one_hot_equals_index": _ce_prob_mean_over_classes,
    "label_smoothing_mixture": _ce_smoothing_off_target,
}
