"""Cross-entropy (``torch.nn.functional.cross_entropy``), reference ``refimpl.cross_entropy``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from hypothesis import strategies as st

import refimpl
from refimpl.cross_entropy import neg_log_softmax_parts

from .. import strategies as S
from ..cases import Case
from ..formats import log2_ceil
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
        return np.sum(np.abs(q) * w_b * b, axis=axis) + (lc + 3) * np.abs(terms)
    ignored = t == case.kwargs.get("ignore_index", -100)
    idx = np.expand_dims(np.where(ignored, 0, t), axis)
    nll_b = np.squeeze(np.take_along_axis(w_b * b, idx, axis), axis)
    # without smoothing the smoothing sum is not computed: no budget (0 * an infinite budget of a
    # masked class would be NaN); with it, a masked class makes the term infinite, compared exactly
    smooth_b = np.sum(w_b * b, axis=axis) * (1 + lc / 4) * (eps / n_classes) if eps > 0 else 0.0
    s = (1 - eps) * nll_b + smooth_b + 3 * np.abs(terms)
    return np.where(ignored, 0.0, s)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    gap=lambda args, kw: None,  # logits and class probabilities are not a pair the formula subtracts
    name="cross_entropy", reference=refimpl.cross_entropy, arg_names=("input", "target"),
    torch_function="torch.nn.functional.cross_entropy", cases=_ce_cases, variants=CE_VARIANTS,
    scale=scale_cross_entropy, denominator=_ce_denominator,
    event_dims=1, without={"ignore_index": _without_ignore_index}, shape_kind=ce_shape_kind, sum_length=_ce_terms,
    mirrors="index and probability targets; input (C,), (N,C), (N,C,d1..dk); weight; ignore_index; "
    "label_smoothing (both target kinds); reduction (weighted mean / sum of non-ignored weights)",
)
