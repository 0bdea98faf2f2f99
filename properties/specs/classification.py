"""Specs of the classification losses: cross_entropy, bce, bce_with_logits, focal."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..spec import LossSpec

MAX_BATCH, MAX_CLASSES = 6, 6

# ---- cross-entropy --------------------------------------------------------------

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


CROSS_ENTROPY = LossSpec(
    name="cross_entropy", reference=refimpl.cross_entropy, arg_names=("input", "target"),
    torch_function="torch.nn.functional.cross_entropy", cases=_ce_cases, variants=CE_VARIANTS,
    scale=T.scale_cross_entropy, denominator=_ce_denominator,
    event_dims=1, without={"ignore_index": _without_ignore_index}, shape_kind=ce_shape_kind, sum_length=_ce_terms,
    mirrors="index and probability targets; input (C,), (N,C), (N,C,d1..dk); weight; ignore_index; "
    "label_smoothing (both target kinds); reduction (weighted mean / sum of non-ignored weights)",
)

# ---- binary cross-entropy ---------------------------------------------------------

TARGETS01 = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


@st.composite
def _bce_like(draw, x_elements, weight: bool, pos_weight: bool = False, n_long: int = 0):
    """A short case, and ``(rows, seed)`` that :func:`S.lengthen_case` extends it with (rows 0: short)."""
    shape = draw(S.shapes(1, 3, 1, 4))
    x = draw(S.array(shape, x_elements))
    t = draw(S.array(shape, TARGETS01))
    kwargs = {}
    if weight:  # a per-class (last dim) weight, or a full-shape one: both broadcast
        wshape = draw(st.sampled_from([shape[-1:], shape]))
        kwargs["weight"] = draw(S.array(wshape, S.log_uniform(1e-2, 1e2)))
    if pos_weight:
        kwargs["pos_weight"] = draw(S.array(shape[-1:], st.one_of(st.just(1.0), S.log_uniform(1e-2, 1e2))))
    extension = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    return Case({"input": x, "target": t}, kwargs), extension


#: BCE's terms are at most 100 (torch's log clamp) times the weight (<= 1e2): the most terms a 'sum'
#: keeps finite in the dtype (float16: none long)
def _bce_terms_limit(fmt, reduction, weighted):
    return math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap() / (100.0 * (1e2 if weighted else 1.0))


@st.composite
def _bce_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms(_bce_terms_limit(fmt, reduction, variant == "weight")))
    case, (rows, seed) = draw(_bce_like(S.unit_interval(), weight=variant == "weight", n_long=n_long))
    if draw(st.booleans()):  # predictions close to their targets at some elements: t log p + (1-t) log(1-p) at p ~ t
        x, t = case.args["input"], case.args["target"]
        case = Case({**case.args, "input": np.clip(draw(S.near(t, x)), 0.0, 1.0)}, case.kwargs)
    return S.lengthen_case(case, rows, seed)


def _logits_cap(fmt, reduction, n_long, gain: float = 1.0):
    """Logits' cap: a term is at most about |x| times the weights (``gain``: their largest product), 1000
    of them (or a long sum's terms) sum to a finite value -- one term for a float16 'mean'
    (``S.summed_count``)."""
    return min(1e30, fmt.headroom_cap(count=S.summed_count(reduction, max(1000, n_long), fmt=fmt, gain=gain)))


def _bcel_terms_limit(fmt, reduction, gain: float):
    """A logit's term is at least about ln 2 times the weights where the logit is small (softplus(0)): no cap
    on the logits keeps a 'sum' of more than headroom / (gain ln 2) terms finite (float16 with both
    weights: 3938 terms of 50 summed to 98859)."""
    return math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap() / (gain * math.log(2.0))


@st.composite
def _bcel_cases(draw, variant, fmt, reduction=None):
    feats = set(variant.split("-"))
    gain = 1e2 ** len(feats & {"weight", "pos_weight"})
    n_long = draw(S.long_terms(_bcel_terms_limit(fmt, reduction, gain)))
    cap = _logits_cap(fmt, reduction, n_long, gain)
    case, (rows, seed) = draw(_bce_like(S.reals(1e-4, cap), weight="weight" in feats, pos_weight="pos_weight" in feats,
                                        n_long=n_long))
    if draw(st.booleans()):  # logits close to logit(t) at some soft targets: the loss's minimum, where it flattens
        x, t = case.args["input"], case.args["target"]
        soft = (t > 0) & (t < 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.where(soft, np.log(t) - np.log1p(-t), 0.0)
        case = Case({**case.args, "input": draw(S.near(logit, x, soft))}, case.kwargs)
    return S.lengthen_case(case, rows, seed)


BCE = LossSpec(
    name="bce", reference=refimpl.bce, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy", cases=_bce_cases, variants=("plain", "weight"),
    scale=T.scale_bce, underflow=T.underflow_weighted, reference_kwargs={"clamp_log": True},
    mirrors="weight (broadcast); reduction; mathematics by default, torch's documented log clamp at -100 "
    "with clamp_log=True (what the comparison uses)",
)
BCE_WITH_LOGITS = LossSpec(
    name="bce_with_logits", reference=refimpl.bce_with_logits, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy_with_logits", cases=_bcel_cases,
    variants=("plain", "weight", "pos_weight", "weight-pos_weight"), scale=T.scale_bce_with_logits, underflow=T.underflow_weighted,
    mirrors="weight, pos_weight (broadcast over the class dim); reduction; stable for any finite logit",
)

# ---- focal ------------------------------------------------------------------------


@st.composite
def _focal_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    case, (rows, seed) = draw(_bce_like(S.reals(1e-4, _logits_cap(fmt, reduction, n_long)), weight=False, n_long=n_long))
    x, t = case.args["input"], case.args["target"]
    if variant == "hard_targets":
        t = np.round(t)
    # alpha is a Python number the implementation multiplies in the dtype: below its normal range it
    # rounds away (alpha = 6e-61 is 0 in float32, while the reference keeps 6e-44 of loss)
    # ... and rounded to it (alpha = 1 - 2^-53 is 1 in float32: the reference's 1 - alpha = 1.1e-16
    # would weigh a term the implementation zeroes)
    alpha = fmt.round(draw(st.one_of(st.sampled_from([0.25, -1.0, 0.0, 1.0]),
                                     st.floats(0.0, 1.0).filter(lambda a: a == 0.0 or a >= fmt.tiny))))
    gamma = draw(st.one_of(st.sampled_from([2.0, 0.0, 0.5, 1.0]), st.floats(0.0, 5.0)))
    return S.lengthen_case(Case({"inputs": x, "targets": t}, {"alpha": alpha, "gamma": gamma}), rows, seed)


FOCAL = LossSpec(
    name="focal", reference=refimpl.focal, arg_names=("inputs", "targets"),
    torch_function=None, cases=_focal_cases, variants=("soft_targets", "hard_targets"), scale=T.scale_focal,
    mirrors="torchvision.ops.sigmoid_focal_loss: alpha (<0 disables), gamma >= 0, soft targets, reduction",
)
