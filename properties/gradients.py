"""Gradient checks: ``torch.autograd.gradcheck`` / ``gradgradcheck`` on generated smooth
points, gradients that stay finite at the extremes training hits, and the subgradient an
implementation picks at a kink.

Smooth points by construction: the loss's own strategy drawn with ``GRADCHECK_FORMAT``
(magnitudes ~1e-2..1e2, where gradcheck's finite differences, step 1e-6, are meaningful)
and moved away from every kink by ``away_from_kinks`` -- a residual is pushed off the
Huber/SmoothL1 transition, a hinge or relu argument off 0, a probability off BCE's clamp,
a distance off 0 -- so no example is filtered away.
"""

from __future__ import annotations

import re
import warnings

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from .agreement import ContractBreach, _describe
from .broadcast import BROADCASTS, reduce_to, with_difference
from .cases import Case
from .diagnosis import check_returned, headline, imports, parts, run_subject, script
from .edge_cases.row import KnownFailure, find_known_failure
from .conventions import gradcheck_refusal
from .formats import FLOAT64, FORMATS, FloatFormat
from .spec import LossSpec
from .tolerance import gradient_bound, gradient_flush, gradient_underflow_gain
from refimpl.grad import DIFFERENTIABLE as _ANALYTIC_DIFFERENTIABLE, differentiated as _differentiated

try:
    from torch.autograd.gradcheck import GradcheckError
except ImportError:  # torch is needed to run any check, not to import the tables
    GradcheckError = RuntimeError

#: Magnitudes for finite differences: headroom_cap(...) ~ 1e2 and lower bounds ~1e-2.
GRADCHECK_FORMAT = FloatFormat("float64", 53, max=16e3, tiny=1e-3, subnormal=5e-324)

#: Distance (relative to the scale of the quantity) kept from a kink; gradcheck's step is 1e-6.
KINK_GAP = 1e-2

#: The floating arguments each loss is differentiated with respect to, positional and keyword
#: (weights, pos_weight, real-valued targets): ``refimpl.grad.DIFFERENTIABLE``, the one map (the
#: analytic gradients exist for exactly these).  Labels (+-1 targets, class indices) are not.
DIFFERENTIABLE = _ANALYTIC_DIFFERENTIABLE


def differentiable(spec: LossSpec, case: Case) -> list[str]:
    """The arguments of ``DIFFERENTIABLE`` this case passes as floating tensors (a plug-in fitted
    without ``weight`` has none to differentiate; class-index targets are integers)."""
    return _differentiated(spec.name, case.args, case.kwargs)


def _array(case: Case, name: str) -> np.ndarray:
    return case.args[name] if name in case.args else case.kwargs[name]


@dataclass(frozen=True)
class Refusal:
    """An argument torch refuses to differentiate (``RuntimeError: The function '...' is not
    differentiable with respect to argument 'weight'``), a recorded known deviation
    (``properties/known_deviations.toml``, shown by its check function on the installed torch):
    an implementation that raises torch's refusal for it (a wrapper of the torch function) is not
    differentiated w.r.t. it -- said in the test's statistics, never silent; one that returns a
    gradient has it checked.  ``applies(case)``: where the record holds."""

    deviation: str
    applies: Callable[[Case], bool] = lambda case: True


#: ``{(loss, argument): Refusal}`` -- every argument of ``DIFFERENTIABLE`` torch 2.13 does not
#: differentiate (measured: ``properties.deviations.torch_refuses_weight_gradients``).
REFUSED = {
    ("bce", "weight"): Refusal("bce_weight_not_differentiable"),
    ("bce_with_logits", "weight"): Refusal("bce_with_logits_weights_not_differentiable"),
    ("bce_with_logits", "pos_weight"): Refusal("bce_with_logits_weights_not_differentiable"),
    ("cross_entropy", "weight"): Refusal("cross_entropy_index_weight_not_differentiable",
                                         lambda case: case.args["target"].dtype.kind != "f"),
}

#: torch's refusal messages (autograd's check in VariableType, and the older derivatives.yaml one)
_REFUSAL = re.compile(r"not differentiable with respect to argument '(\w+)'|derivative for '?(\w+)'? is not implemented")


def refused_argument(exc: BaseException) -> str | None:
    """The argument an exception says torch refuses to differentiate, or None."""
    m = _REFUSAL.search(str(exc))
    return (m.group(1) or m.group(2)) if m else None


def without_refused(spec: LossSpec, subject, case: Case, names, dtype: str = "float64",
                    device: str = "cpu") -> tuple[list[str], list[str]]:
    """``(names kept, refusals)``: ``names`` less the arguments ``subject`` refuses to differentiate
    as a recorded :data:`REFUSED` deviation (one probing forward call per refused argument; none
    when no name can be refused).  A refusal of an argument with no record is kept: the check then
    reports it as the finding it is (a raise on valid input, with the argument named)."""
    names = list(names)
    refusals = []
    while any((spec.name, n) in REFUSED and REFUSED[spec.name, n].applies(case) for n in names):
        f, inputs = torch_function_of(subject, case, names, case.kwargs.get("reduction", "mean"), dtype, device)
        try:
            f(*inputs)
        except Exception as exc:  # noqa: BLE001 -- anything else is left to the check's contract
            arg = refused_argument(exc.__cause__ if isinstance(exc, ContractBreach) and exc.__cause__ else exc)
            rec = REFUSED.get((spec.name, arg))
            if arg in names and rec is not None and rec.applies(case):
                names.remove(arg)
                refusals.append(f"{arg} not differentiated: {subject.qualname} refuses it, recorded known deviation "
                                f"{rec.deviation!r}")
                continue
        break
    return names, refusals


def _announce(refusals) -> None:
    """Say in the test's statistics which argument was not differentiated, and why."""
    from hypothesis import event
    from hypothesis.errors import InvalidArgument

    for r in refusals:
        try:
            event(r)
        except InvalidArgument:  # outside a Hypothesis test (a direct call): nothing to tell
            pass


def _push(v: np.ndarray, kink, scale) -> np.ndarray:
    """Move entries of ``v`` closer than KINK_GAP * scale to ``kink`` to kink +- 2 KINK_GAP * scale."""
    gap = KINK_GAP * scale
    side = np.where(v >= kink, 1.0, -1.0)
    return np.where(np.abs(v - kink) < gap, kink + 2 * side * gap, v)


def _residual_away(case: Case, at) -> Case:
    """input = target + r with |r| kept off ``at`` (a transition point) and off 0 when at = 0."""
    x, y = np.broadcast_arrays(case.args["input"], case.args["target"])
    r = x - y
    # relative to the transition itself (so |r| never crosses 0); off 0 (L1) relative to |y|
    scale = abs(at) if at > 0 else np.maximum(1.0, np.abs(y))
    r = np.sign(r + (r == 0)) * _push(np.abs(r), at, scale)
    return with_difference(case, r)  # a broadcast pair keeps its shapes


def _rows_apart(a: np.ndarray, b: np.ndarray, gap: float = 1.0) -> np.ndarray:
    """``b`` with every entry at least ``gap`` KINK_GAPs (relative) from ``a``'s: no small component of a - b."""
    scale = gap * np.maximum(1.0, np.abs(a))
    return a + _push(b - a, 0.0, scale)


def _triplet(case: Case, fmt: FloatFormat = GRADCHECK_FORMAT) -> Case:
    """No small component in a - p, a - n (p - n with swap): the p-norm is smooth there, and
    |component|^p stays above the dtype's normal range (torch forms |d_i|^p: in float16 with
    p = 3.6 a component of 0.01 underflows and the gradient is -inf -- known deviation
    triplet_pnorm_underflow_low_precision); the relu's argument margin + d(a, p) - d(a, n) off 0
    (the margin moved where it is close) and, with swap, d(a, n) apart from d(p, n)."""
    norm_p = case.kwargs.get("p", 2.0)
    gap = max(1.0, 2 * (16 * fmt.tiny) ** (1 / norm_p) / KINK_GAP)  # in units of KINK_GAP
    # the distances carry a few u of the dtype: the relu's and the minimum's kinks are kept
    # 16 u away (bfloat16: 6 %; measured: a 1.2 % gap flips the relu in bfloat16)
    kg = max(KINK_GAP, 16 * fmt.u)
    a = case.args["anchor"]
    p, n = _rows_apart(a, case.args["positive"], gap), _rows_apart(a, case.args["negative"], gap)
    if case.kwargs.get("swap"):  # n apart from both a and p: alternate (two gaps rarely collide)
        for _ in range(3):
            n = _rows_apart(a, _rows_apart(p, n, gap), gap)
        assume(np.array_equal(_rows_apart(p, n, gap), n))
    dist = _triplet_distance(case)
    for _ in range(4):  # the minimum's kink d(a, n) = d(p, n): move p away from a until they are apart
        if not case.kwargs.get("swap"):
            break
        close = np.abs(dist(a, n) - dist(p, n)) < 4 * kg * np.maximum(dist(a, n), 1.0)
        if not np.any(close):
            break
        p = np.where(close[..., None], a + 1.5 * (p - a), p)
    else:  # (an L1 distance can be unchanged by that move: then the case is not smooth)
        assume(not np.any(np.abs(dist(a, n) - dist(p, n)) < 4 * kg * np.maximum(dist(a, n), 1.0)))
    return _triplet_margin_off(Case({"anchor": a, "positive": p, "negative": n}, case.kwargs), kg)


def _triplet_distance(case: Case):
    eps, norm_p = case.kwargs.get("eps", 1e-6), case.kwargs.get("p", 2.0)
    return lambda u, v: np.sum(np.abs(u - v + eps) ** norm_p, -1) ** (1 / norm_p)


def _triplet_margin_off(c: Case, kg: float) -> Case:
    """The relu's argument margin + d(a, p) - d_neg off 0 by ``kg`` (relative): the margin moved up."""
    a, p, n, m = c.args["anchor"], c.args["positive"], c.args["negative"], c.kwargs["margin"]
    dist = _triplet_distance(c)
    d_neg = np.minimum(dist(a, n), dist(p, n)) if c.kwargs.get("swap") else dist(a, n)
    gap = m + dist(a, p) - d_neg
    scale = max(1.0, m, float(np.max(d_neg, initial=0.0)))
    if np.any(np.abs(gap) < kg * scale):
        c = c.with_kwargs(margin=m + 4 * kg * scale + float(np.max(np.abs(gap))))
    return c


def _margin_off(case: Case, value: np.ndarray, labels_active: np.ndarray) -> Case:
    """Shift ``margin`` so that ``margin - value`` is off 0 wherever the hinge is active."""
    m = case.kwargs["margin"]
    close = labels_active & (np.abs(m - value) < KINK_GAP * max(1.0, abs(m)))
    if np.any(close):
        m = m + 4 * KINK_GAP * max(1.0, abs(m))
    return case.with_kwargs(margin=m) if np.any(close) else case


def _cosine(case: Case) -> Case:
    """The hinge max(0, cos - margin) off its kink for every y = -1 row: the nearest margin in
    [-1, 1] (steps of 4 KINK_GAP) at least KINK_GAP from every such cosine."""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    m = case.kwargs["margin"]
    candidates = [m + k * 4 * KINK_GAP for k in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5)]
    for c in candidates:
        if -1.0 <= c <= 1.0 and not np.any((y == -1) & (np.abs(cos - c) < KINK_GAP)):
            return case.with_kwargs(margin=c)
    assume(False)  # cosines spread over every candidate: not a smooth point (rare)
    return case


def _contrastive(case: Case) -> Case:
    a = case.args["input1"]
    b = a + _push(case.args["input2"] - a, 0.0, np.maximum(1.0, np.abs(a)))
    c = Case({**case.args, "input2": b}, case.kwargs)
    d = np.sqrt(np.sum((a - b) ** 2, -1))
    return _margin_off(c, d, case.args["target"] == -1)


def _bce(case: Case) -> Case:
    # off log's clamp and the 1/(x(1-x)) pole; targets inside (0, 1) so differences stay valid
    x = np.clip(case.args["input"], KINK_GAP, 1 - KINK_GAP)
    t = np.clip(case.args["target"], KINK_GAP, 1 - KINK_GAP)
    return Case({**case.args, "input": x, "target": t}, case.kwargs)


def _kl(case: Case) -> Case:
    t = case.args["target"]
    if not case.kwargs.get("log_target", False):  # d/dt t log t = log t + 1 is -inf at t = 0
        t = np.where(t < KINK_GAP, t + 2 * KINK_GAP, t)
    return Case({**case.args, "target": t}, case.kwargs)


def _cross_entropy(case: Case) -> Case:
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


#: Smallest Dice denominator P + G + smooth_dr in the gradient comparisons (see ``_dice``).
DICE_MIN_DENOMINATOR = 1e-2


def _dice(case: Case) -> Case:
    """Dice is smooth but its curvature grows like 1 / den^3: gradcheck's central differences
    (eps = 1e-6) are off by ~(eps / den)^2 relative -- 1 % at den = 1e-5, measured: 101010 vs
    100000 --, and the gradient (up to (2 + 2 ratio) / den) overflows float16 at small den.
    smooth_dr >= 1e-2 and smooth_nr <= smooth_dr keep den >= 1e-2: FD error <= 1e-8 relative,
    |gradient| <= 400.  Tiny denominators are covered by the value tests and the edge cases."""
    from refimpl.dice import dice_parts

    kw = {k: case.kwargs[k] for k in ("smooth_nr", "smooth_dr", "squared_pred", "include_background", "batch")
          if k in case.kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # include_background=False with one channel
        _, den = dice_parts(case.args["input"], case.args["target"], **kw)
    if den.size and np.all(den >= DICE_MIN_DENOMINATOR) and kw.get("smooth_nr", 0.0) <= kw.get("smooth_dr", 0.0):
        return case  # the data keep every denominator large: smoothing constants as drawn
    dr = max(case.kwargs["smooth_dr"], DICE_MIN_DENOMINATOR)
    return case.with_kwargs(smooth_dr=dr, smooth_nr=min(case.kwargs["smooth_nr"], dr))


def _smooth_l1(case: Case) -> Case:
    return _residual_away(case, case.kwargs.get("beta", 1.0))


AWAY_FROM_KINKS: dict[str, Callable[[Case], Case]] = {
    "mse": lambda c: c,
    "huber": lambda c: _residual_away(c, c.kwargs.get("delta", 1.0)),
    "smooth_l1": _smooth_l1,
    "cross_entropy": _cross_entropy,
    "bce": _bce,
    "bce_with_logits": lambda c: c,
    "focal": lambda c: c,
    "kl_div": _kl,
    "hinge_embedding": lambda c: _margin_off(c, c.args["input"], c.args["target"] == -1),
    "triplet_margin": _triplet,
    "cosine_embedding": _cosine,
    "contrastive": _contrastive,
    "dice": _dice,
}


# ---- coincident and zero inputs ------------------------------------------------------
# Where a loss is differentiable at coincident inputs (a = b, r = 0, a distance of 0) its gradient
# there is checked like anywhere else: finite and equal to the analytic one.  That is where a
# transcription through sqrt(sum((a - b)^2)) or |r| = sqrt(r^2) has 0 * inf = NaN, and the smooth
# points above never go (they move inputs apart).  Each function takes a smooth point and a mask
# over its terms (elements or rows) and makes the masked terms coincide, only where the loss is
# differentiable there; ``fmt``: the dtype's format.


def _residual_zero(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """input = target (r = 0) where masked: MSE, Huber and SmoothL1 (beta > 0) are quadratic there,
    gradient 0.  SmoothL1 with beta = 0 is L1, with a kink at 0: left to the subgradient rows."""
    if case.kwargs.get("beta", 1.0) == 0:
        return case
    x, y = np.broadcast_arrays(case.args["input"], case.args["target"])
    return with_difference(case, np.where(np.broadcast_to(mask, x.shape), 0.0, x - y))


def _hinge_zero(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """Distances of exactly 0 where masked (gradient 1 for y = 1, -1 for y = -1 while margin > 0),
    the margin kept off them."""
    x = case.args["input"]  # a broadcast input: the mask's first index along the dims it is broadcast over
    x = np.where(mask if mask.shape == x.shape else reduce_to(mask, x.shape), 0.0, x)
    return _margin_off(Case({**case.args, "input": x}, case.kwargs), x, case.args["target"] == -1)


def _similar_pair(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """input2 = input1 with target 1 in the masked rows: the similar branch (contrastive: 0.5 d^2, a
    polynomial; cosine: 1 - cos, smooth at a = b) has gradient 0 there.  (The dissimilar branch has no
    gradient at d = 0 -- the direction (a - b) / d is undefined -- and is left to the finite-gradient rows.)"""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    return Case({**case.args, "input2": np.where(mask[..., None], a, b), "target": np.where(mask, 1.0, y)},
                case.kwargs)


def _triplet_coincident(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """positive = anchor in the masked rows (negative = anchor with swap, so that the minimum
    d(a, n) < d(p, n) is not a tie): d = eps D^(1/p) is smooth while eps > 0, its gradient the unit
    direction of (eps, ..., eps).  Only where eps^p is a normal number of the dtype (torch forms
    |d_i|^p: below that it underflows, known deviation triplet_pnorm_underflow_low_precision); eps = 0
    is the norm's kink at 0, left to the finite-gradient rows."""
    eps, norm_p = case.kwargs.get("eps", 1e-6), case.kwargs.get("p", 2.0)
    if eps <= 0 or eps**norm_p < 16 * fmt.tiny:
        return case
    which = "negative" if case.kwargs.get("swap") else "positive"
    a = case.args["anchor"]
    c = Case({**case.args, which: np.where(mask[..., None], a, case.args[which])}, case.kwargs)
    return _triplet_margin_off(c, max(KINK_GAP, 16 * fmt.u))


#: ``{loss: coincide(case, mask, fmt) -> Case}``; ``mask`` has the shape of the loss's unreduced terms.
AT_COINCIDENCE: dict[str, Callable[[Case, np.ndarray, FloatFormat], Case]] = {
    "mse": _residual_zero, "huber": _residual_zero, "smooth_l1": _residual_zero,
    "hinge_embedding": _hinge_zero, "triplet_margin": _triplet_coincident,
    "cosine_embedding": _similar_pair, "contrastive": _similar_pair,
}


def terms_shape(spec: LossSpec, case: Case) -> tuple:
    """The shape of the unreduced terms: the first argument's batch shape -- broadcast with the
    target's for the elementwise losses that broadcast (``properties.broadcast``)."""
    first = case.args[spec.arg_names[0]]
    if spec.name in BROADCASTS:
        return np.broadcast_shapes(first.shape, np.shape(case.args["target"]))
    return first.shape[: first.ndim - spec.event_dims]


def smooth_cases(spec: LossSpec, variant: str, fmt: FloatFormat = GRADCHECK_FORMAT, coincident: bool = False,
                 short: bool = False):
    """The loss's strategy at moderate magnitudes (``fmt``), moved off every kink; ``coincident``: in
    half of the examples, a random subset of the terms (at least one) moved to coincident inputs
    (``AT_COINCIDENCE``) where the loss has one; ``short``: no long reduction (``strategies.long_terms``)
    -- for ``torch.autograd.gradcheck``, whose finite differences call the loss twice per input element
    (a 4096-term example: over 8000 calls, 20 s of a gate run), where a long sum adds nothing the
    vector-Jacobian comparison of ``check_gradient`` does not check on it."""
    away = AWAY_FROM_KINKS[spec.name]
    drawn = spec.cases(variant, fmt)
    if short:
        from .strategies import LONG_TERMS

        drawn = drawn.filter(lambda c: spec.summed(c) < LONG_TERMS[0])
    if spec.name == "triplet_margin":  # its gap depends on the dtype's underflow
        cases = drawn.map(lambda c: away(c, fmt))
    else:
        cases = drawn.map(away)
    coincide = AT_COINCIDENCE.get(spec.name)
    if not coincident or coincide is None:
        return cases

    @st.composite
    def at_coincidence(draw):
        case = draw(cases)
        if not draw(st.booleans()):
            return case
        shape = terms_shape(spec, case)
        mask = draw(hnp.arrays(bool, shape, elements=st.booleans()))
        if mask.size:
            mask.flat[0] = True
        return coincide(case, mask, fmt)

    return at_coincidence()


def cotangents(shape: tuple, reduction: str) -> st.SearchStrategy:
    """Random upstream gradients for a vector-Jacobian product: per element for 'none' (an array of
    the output's shape), one number for 'mean' / 'sum'; values +-k/16, k = 1..16, exact in every
    dtype and at most 1 in magnitude (no gradient grows beyond what ones give).  Ones hide a backward
    that ignores its incoming gradient or mis-broadcasts it (sums or averages it)."""
    def scaled(k):
        k = np.asarray(k, dtype=np.float64)
        return np.where(k >= 0, k + 1, k) / 16.0

    if reduction == "none":
        return hnp.arrays(np.int64, shape, elements=st.integers(-16, 15)).map(scaled)
    return st.integers(-16, 15).map(lambda k: float(scaled(k)))


def gradient_format(dtype: str) -> FloatFormat:
    """The domain of the autograd-vs-analytic comparison in ``dtype``: the dtype's precision
    and underflow, magnitudes capped at 2^16 (the training scale; the value tests cover the
    whole range of the dtype) so a gradient's own products stay finite."""
    fmt = FORMATS[dtype]
    return FloatFormat(dtype, fmt.precision, min(fmt.max, 2.0**16 * 16), fmt.tiny, fmt.subnormal)


class GradientError(AssertionError):
    pass


def gradient_reproduction(spec: LossSpec, subject, case: Case, names, dtype: str, device: str,
                          grad_output: float = 1.0) -> str:
    """A script: the inputs ``names`` created with ``requires_grad_()``, the call, ``out.backward``
    with an upstream gradient of the output's shape, autograd's gradient beside ``refimpl.grad``'s."""
    from .diagnosis import gradient_lines

    return script(subject, case, dtype, device, modules=("refimpl.grad",), requires_grad=tuple(names),
                  after=gradient_lines(spec, case, names, grad_output))


def compare_gradients(spec: LossSpec, case: Case, names, grads: dict, dtype: str, grad_output: float = 1.0):
    """Autograd's gradients ``grads`` (``{name: float64 array}``) of the loss at ``case`` (rounded to
    ``dtype``, reduction in its kwargs) against ``refimpl.grad`` within ``gradient_bound``: ``(largest
    error / bound, diagnosis, detail)`` -- the diagnosis of the first input outside the bound
    ("non-finite gradient w.r.t. ..." / "gradient outside the bound w.r.t. ..."), or None."""
    import refimpl.grad

    spec = spec.in_dtype(dtype)  # a plug-in's declared conventions in this dtype (properties.conventions)
    fmt = spec.fmt(dtype)
    reduction = case.kwargs.get("reduction", "mean")
    terms = spec.call_reference(case, reduction="none")
    up = (np.broadcast_to(np.asarray(grad_output, dtype=np.float64), np.shape(spec.call_reference(case))).copy()
          if reduction == "none" else float(grad_output))
    ref = getattr(refimpl.grad, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs},
                                          grad_output=up)
    gain = gradient_underflow_gain(case, spec.underflow(case, terms) if spec.underflow else 1.0)
    worst = 0.0
    for name in names:
        want, mag, got = ref[name], ref[name + "__mag"], grads[name]
        arg = _array(case, name)
        # a keyword tensor (a weight) collects every term it multiplies (and a weighted mean, the loss itself); a
        # positional one its row, and the terms it was broadcast to (mse's (3,) target against a (4, 3) input)
        n_summed = np.size(terms) if name in case.kwargs else max(arg.shape[-1] if arg.ndim else 1,
                                                                   np.size(terms) // max(np.size(arg), 1))
        collected = max(1, np.size(terms) // max(np.size(arg), 1))  # terms summed into one of its elements
        bnd = gradient_bound(fmt, mag, n_summed, gain, gradient_flush(spec, fmt), collected)
        with np.errstate(invalid="ignore"):
            same = (got == want) | (np.isnan(got) & np.isnan(want))
            err = np.where(same, 0.0, np.abs(got - want))
        err = np.where(np.isnan(err), np.inf, err)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(err == 0, 0.0, err / bnd)
        if not (ratio.size and ratio.max() > 1):
            worst = max(worst, float(ratio.max()) if ratio.size else 0.0)
            continue
        nonfinite = ~np.isfinite(got) & np.isfinite(want)
        i = np.unravel_index(int(np.argmax(nonfinite if nonfinite.any() else ratio)), ratio.shape)
        idx = tuple(int(k) for k in i)
        if nonfinite.any():
            diagnosis = (f"non-finite gradient w.r.t. {name}: {int(nonfinite.sum())} of {ratio.size} element(s) where "
                         f"the analytic gradient is finite (element {idx}: {float(got[i])!r}, "
                         f"analytic {float(want[i])!r})")
        else:
            diagnosis = (f"gradient outside the bound w.r.t. {name}: {int(np.sum(ratio > 1))} of {ratio.size} "
                         f"element(s), error/bound = {float(ratio[i]):.3g}")
        detail = (_describe(f"d/d{name} worst", float(got[i]), float(want[i]), float(err[i]), float(bnd[i]), fmt, idx,
                            names=("autograd", "analytic")) + f" (magnitude {float(mag[i]):.3e})")
        return float(ratio[i]), diagnosis, detail
    return worst, None, ""


def check_gradient(spec: LossSpec, subject, case: Case, dtype: str, device: str, reduction: str,
                   grad_output: float = 1.0) -> float:
    """Autograd's gradient of ``subject`` agrees with ``refimpl.grad`` within ``gradient_bound``.

    ``case`` is rounded to ``dtype`` first (both sides see the same inputs); the upstream
    gradient is ``grad_output``: a number (broadcast over a 'none' output) or, for 'none', an array
    of the output's shape (a random cotangent: a backward that ignores or mis-broadcasts its
    incoming gradient is right only for ones).  The forward call is held to the contract
    first (a raise, a wrong type, dtype, device or shape is diagnosed as such, never as a
    gradient).  Returns the largest error / bound."""
    case = case.rounded(dtype).with_kwargs(reduction=reduction)
    names, refusals = without_refused(spec, subject, case, differentiable(spec, case), dtype, device)
    _announce(refusals)
    got = autograd(subject, case, names, dtype, device, grad_output)
    worst, diagnosis, detail = compare_gradients(spec, case, names, got, dtype, grad_output)
    if diagnosis:
        raise gradient_failure(spec, subject, case, names, dtype, device, diagnosis, detail, grad_output)
    return worst


def gradient_failure(spec: LossSpec, subject, case: Case, names, dtype: str, device: str, diagnosis: str,
                     detail: str = "", grad_output: float = 1.0) -> GradientError:
    """A gradient check's failure: the one-line diagnosis, the case, ``detail``, a reproduction."""
    where = f"reduction={case.kwargs.get('reduction', 'mean')!r}"
    return GradientError(
        f"{headline(subject.qualname, diagnosis, spec.name, dtype, device, where)}\n"
        f"gradient of {spec.name} w.r.t. {list(names)}, upstream gradient {grad_output!r}\ncase: {case!r}\n"
        + (detail + "\n" if detail else "") + "Reproduce:\n"
        + gradient_reproduction(spec, subject, case, names, dtype, device, grad_output))


def torch_function_of(subject, case: Case, names: list[str], reduction: str, dtype: str = "float64",
                      device: str = "cpu"):
    """``(f, inputs)``: f(*inputs) is the subject's loss as a function of the differentiable tensors
    ``names`` (positional or keyword)."""
    args, kwargs = case.with_kwargs(reduction=reduction).to_torch(dtype, device)
    order = list(case.args)
    # detach(), not clone(): the differentiated tensors keep the case's memory layouts (args are fresh)
    inputs = [(args[order.index(n)] if n in case.args else kwargs[n]).detach().requires_grad_(True) for n in names]

    def f(*diff):
        full, keywords = list(args), dict(kwargs)
        for n, t in zip(names, diff):
            if n in case.args:
                full[order.index(n)] = t
            else:  # a keyword tensor (weight, pos_weight)
                keywords[n] = t
        return run_subject(subject, full, keywords)

    return f, inputs


TORCH_F = "torch.nn.functional."
A = np.array


@dataclass(frozen=True)
class GradientRow:
    """A point training hits at an extreme: the gradient w.r.t. ``wrt`` must be finite there
    (for the torch subject through autograd, and for the analytic ``refimpl.grad``)."""

    loss: str
    name: str
    case: Case
    wrt: tuple[str, ...]
    why: str
    known_failures: tuple[KnownFailure, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def known_failure(self, qualname: str, dtype: str) -> KnownFailure | None:
        return find_known_failure(self.known_failures, qualname, dtype)


def _c(args: dict, **kwargs) -> Case:
    return Case({k: A(v, dtype=float) if not isinstance(v, np.ndarray) else v for k, v in args.items()},
                {"reduction": "sum", **kwargs})


SAT = [[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]]
FINITE_GRADIENT_ROWS = [
    GradientRow("cross_entropy", "saturated_logits", _c({"input": SAT, "target": A([1, 1, 2])}), ("input",),
                "softmax of |x| = 1e4: exp underflows, the gradient is s - onehot in [-1, 1]"),
    GradientRow("cross_entropy", "saturated_logits-label_smoothing",
                _c({"input": SAT, "target": A([0, 1, 2])}, label_smoothing=0.1), ("input",), "as above"),
    GradientRow("cross_entropy", "saturated_logits-probability_targets",
                _c({"input": SAT, "target": [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]]}), ("input", "target"),
                "q-weighted softmax gradients; d/dq = -log p is large (1e4) but finite"),
    GradientRow("bce_with_logits", "saturated_logits", _c({"input": [1e4, -1e4, 1e4, -1e4], "target": [0., 0., 1., 1.]}),
                ("input", "target"), "sigmoid(x) - t in [-1, 1]; d/dt = -x"),
    GradientRow("focal", "saturated_logits-fractional_gamma",
                Case({"inputs": A([1e4, -1e4, 1e4, -1e4]), "targets": A([0., 0., 1., 1.])},
                     {"alpha": 0.25, "gamma": 0.5, "reduction": "sum"}), ("inputs",),
                "(1 - p_t)^gamma with 0 < gamma < 1 has an infinite derivative at p_t = 1, but it is multiplied "
                "by ce = 0 there: the product's derivative is 0 (torchvision's formula gives NaN)",
                (KnownFailure("fvcore_focal_nan_gradient_fractional_gamma", "fvcore.nn.sigmoid_focal_loss"),)),
    GradientRow("bce", "probabilities_0_and_1", _c({"input": [0.0, 1.0, 0.0, 1.0], "target": [0.0, 1.0, 1.0, 0.0]}),
                ("input",), "torch's backward divides by max(x (1 - x), 1e-12): finite (+-1e12 where wrong)",
                (KnownFailure("bce_backward_float16_at_0_1", TORCH_F + "binary_cross_entropy", ("float16",)),)),
    GradientRow("triplet_margin", "anchor_is_positive",
                _c({"anchor": [[1.0, 2.0, -1.0]], "positive": [[1.0, 2.0, -1.0]], "negative": [[1.5, 2.0, -1.0]]},
                   margin=2.0), ("anchor", "positive", "negative"), "d(a, p) = eps D^(1/p): smooth"),
    GradientRow("triplet_margin", "anchor_is_positive-eps_0",
                _c({"anchor": [[1.0, 2.0, -1.0]], "positive": [[1.0, 2.0, -1.0]], "negative": [[1.5, 2.0, -1.0]]},
                   margin=2.0, eps=0.0), ("anchor", "positive", "negative"),
                "the norm at 0: subgradient 0 (torch's convention), not 0/0"),
    GradientRow("contrastive", "coincident_pairs",
                _c({"input1": [[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], "input2": [[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]],
                    "target": [1.0, -1.0]}, margin=1.0), ("input1", "input2"),
                "a = b: the similar term 0.5 d^2 has gradient 0; the dissimilar one has no gradient at d = 0 (the "
                "direction (a - b) / d is undefined), torch's norm backward gives 0 -- finite, not 0 * inf"),
    GradientRow("cosine_embedding", "zero_vector", _c({"input1": [[0.0, 0.0, 0.0]], "input2": [[1.0, 2.0, 3.0]],
                                                        "target": [1.0]}), ("input1", "input2"),
                "EPS in the norms keeps 1/|a| finite (huge: ~1/sqrt(EPS))",
                (KnownFailure("cosine_embedding_zero_vector_low_precision", TORCH_F + "cosine_embedding_loss",
                              ("float16",)),)),
    GradientRow("smooth_l1", "beta_0", _c({"input": [1.0, -2.0, 0.0], "target": [0.0, 0.0, 0.0]}, beta=0.0),
                ("input", "target"), "beta = 0 is L1: sign(r), no 1/beta (pytorch#96813, PR #97022)"),
    GradientRow("kl_div", "zero_targets", _c({"input": [-1.0, -2.0], "target": [0.0, 0.5]}), ("input",),
                "d/dx = -t: 0 for a zero target (d/dt = log t + 1 - x is -inf there: not checked)"),
    GradientRow("hinge_embedding", "negative_margin", _c({"input": [0.5, -0.5], "target": [-1.0, 1.0]}, margin=-1.0),
                ("input",), "piecewise linear: 0 or +-1"),
]


@dataclass(frozen=True)
class SubgradientRow:
    """A kink: the gradient an implementation picks must lie between the one-sided gradients
    (the analytic gradient just left and right of the kink, ``perturb(case, -+h)``), i.e. in
    the subdifferential (its elementwise hull)."""

    loss: str
    name: str
    case: Case
    wrt: str
    perturb: Callable[[Case, float], Case]
    why: str

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"


def _shift_input(name: str, index: int):
    def perturb(case: Case, h: float) -> Case:
        v = case.args[name].copy()
        v.flat[index] += h
        return Case({**case.args, name: v}, case.kwargs)
    return perturb


def _shift_kwarg(key: str):
    return lambda case, h: case.with_kwargs(**{key: case.kwargs[key] + h})


SUBGRADIENT_ROWS = [
    SubgradientRow("smooth_l1", "at_beta", _c({"input": [1.5], "target": [0.0]}, beta=1.5), "input",
                   _shift_input("input", 0), "d/dr at |r| = beta: r / beta = 1 from below, sign(r) = 1 above"),
    SubgradientRow("smooth_l1", "l1_at_0", _c({"input": [0.0], "target": [0.0]}, beta=0.0), "input",
                   _shift_input("input", 0), "|r| at 0: subdifferential [-1, 1]"),
    SubgradientRow("huber", "at_delta", _c({"input": [-2.0], "target": [0.0]}, delta=2.0), "input",
                   _shift_input("input", 0), "d/dr at |r| = delta: r = -delta from both sides"),
    SubgradientRow("hinge_embedding", "at_margin", _c({"input": [1.0], "target": [-1.0]}, margin=1.0), "input",
                   _shift_input("input", 0), "max(0, margin - x) at x = margin: subdifferential [-1, 0]"),
    SubgradientRow("triplet_margin", "relu_at_0",
                   _c({"anchor": [[0.0, 0.0]], "positive": [[1.0, 0.0]], "negative": [[0.0, 2.0]]}, margin=1.0, eps=0.0),
                   "anchor", _shift_kwarg("margin"), "relu(margin + d(a,p) - d(a,n)) at 0: lambda * the active gradient"),
    SubgradientRow("cosine_embedding", "at_margin",
                   _c({"input1": [[1.0, 0.0]], "input2": [[0.0, 1.0]], "target": [-1.0]}, margin=0.0), "input1",
                   _shift_kwarg("margin"), "max(0, cos - margin) at cos = margin: lambda * d cos"),
]


class GradcheckFailure(GradientError, GradcheckError):
    """``gradcheck`` / ``gradgradcheck`` failed: a check failure (AssertionError) that is still
    torch's ``GradcheckError`` for callers that catch it."""


def gradcheck_case(subject, case: Case, names: list[str], reduction: str, device: str = "cpu",
                   second_order: bool = True, fast_mode: bool = True) -> None:
    """``torch.autograd.gradcheck`` (and ``gradgradcheck``) of ``subject`` at ``case`` in float64,
    w.r.t. ``names``, with gradcheck's own finite-difference tolerances (step 1e-6, atol 1e-5,
    rtol 1e-3), which ``GRADCHECK_FORMAT``'s magnitudes make meaningful.  The first order is
    checked entry by entry; ``fast_mode`` applies to gradgradcheck only: random projections
    u^T H v instead of every second-derivative entry (one numerical directional derivative
    instead of one per input element).  (Fast mode on the first order let a backward scaled by
    1.1 pass where the projection's terms cancelled: not strict enough there.)

    The forward call is held to the contract first; a failure is a :class:`GradcheckFailure`
    (a ``GradcheckError`` too) whose first line says which derivative, w.r.t. what."""
    import torch

    from .specs import SPECS

    spec = SPECS[subject.loss]
    if why := gradcheck_refusal(subject):  # a declared float32 arithmetic: no float64 finite differences
        import pytest

        pytest.skip(why)
    case = case.with_kwargs(reduction=reduction)
    names, refusals = without_refused(spec, subject, case, names, "float64", device)
    _announce(refusals)
    autograd(subject, case, names, "float64", device)  # the contract first (a GradientError naming a breach)
    f, inputs = torch_function_of(subject, case, names, reduction, "float64", device)
    # finite differences perturb one element at a time: an expanded (stride-0) input, whose elements share
    # memory, is checked as a dense copy (torch.autograd.gradcheck refuses overlapping inputs)
    inputs = [t.detach().contiguous().requires_grad_() if any(s == 0 and n > 1 for s, n in zip(t.stride(), t.shape))
              else t for t in inputs]
    try:
        torch.autograd.gradcheck(f, inputs, raise_exception=True)
    except GradcheckError as exc:
        raise _gradcheck_failure(spec, subject, case, names, device, exc, second=False) from exc
    if second_order:
        try:
            torch.autograd.gradgradcheck(f, inputs, raise_exception=True, fast_mode=fast_mode)
        except GradcheckError as exc:
            raise _gradcheck_failure(spec, subject, case, names, device, exc, second=True) from exc


_JACOBIAN = re.compile(r"output (\d+) with respect to input (\d+)")
_PROJECTION = re.compile(r"numerical:\s*(\S+)\s*analytical:\s*(\S+)")


def _gradcheck_failure(spec: LossSpec, subject, case: Case, names, device: str, exc, second: bool):
    """The :class:`GradcheckFailure` of a failed gradcheck (``second``: gradgradcheck): which
    derivative w.r.t. what, the point, the analytic value against the numerical one, torch's
    report, and a reproduction (first order: autograd beside ``refimpl.grad``; second order:
    the second derivative along a direction by double backward and by finite differences)."""
    text = str(exc).strip()
    m = _JACOBIAN.search(text)
    of = lambda k: names[k] if k < len(names) else "the upstream gradient"
    if second:
        wrt = f" d/d{of(int(m.group(2)))} of d/d{of(int(m.group(1)))}" if m else ""
        diagnosis = f"gradgradcheck: second derivative{wrt} disagrees with finite differences of the first derivative"
        p = _PROJECTION.search(text)
        detail = (f"second derivative (torch's random projection u^T H v, fast mode): analytic {p.group(2)}, "
                  f"numerical {p.group(1)}\n") if p else ""
        repro = second_derivative_reproduction(subject, case, names, device)
    else:
        wrt = f" w.r.t. {of(int(m.group(2)))}" if m else ""
        diagnosis = f"gradcheck: first derivative{wrt} disagrees with finite differences"
        _, problem, detail = compare_gradients(spec, case, names, autograd(subject, case, names, "float64", device),
                                               "float64")
        detail = f"autograd against refimpl.grad: {problem}\n{detail}\n" if problem else ""
        repro = gradient_reproduction(spec, subject, case, names, "float64", device)
    reduction = case.kwargs.get("reduction", "mean")
    return GradcheckFailure(
        f"{headline(subject.qualname, diagnosis, spec.name, 'float64', device, f'reduction={reduction!r}')}\n"
        f"point: {case!r}\n{detail}torch.autograd.{'gradgradcheck' if second else 'gradcheck'} (step 1e-6, atol 1e-5, "
        f"rtol 1e-3):\n  " + text.replace("\n", "\n  ") + "\nReproduce:\n" + repro)


def second_derivative_reproduction(subject, case: Case, names, device: str) -> str:
    """A float64 script: the second derivative along a direction d (H d) by double backward of
    autograd's gradient, beside central finite differences of that gradient (step 1e-6)."""
    tensors, call = parts(subject, case, "float64", device)
    args = ", ".join(names)
    return "\n".join([
        imports(subject), *tensors,
        f"def loss({args}):", "    " + call.replace("out = ", "return ", 1), "",
        "def first_derivative(*x):  # autograd's gradient, itself differentiable",
        "    x = [t.detach().requires_grad_() for t in x]",
        "    out = loss(*x)",
        "    return x, torch.autograd.grad(out, x, torch.ones_like(out), create_graph=True)", "",
        f"x = [{args}]",
        "d = [torch.linspace(0.5, 1.5, t.numel(), dtype=t.dtype).reshape(t.shape) * (k + 1) for k, t in enumerate(x)]",
        "xs, g = first_derivative(*x)",
        "live = [(gi, di) for gi, di in zip(g, d) if gi.requires_grad]",
        "second = torch.autograd.grad([gi for gi, _ in live], xs, [di for _, di in live], allow_unused=True) "
        "if live else [None] * len(xs)",
        "analytic = [torch.zeros_like(t) if s is None else s for t, s in zip(xs, second)]  # H d by double backward",
        "h = 1e-6",
        "plus = first_derivative(*[t + h * e for t, e in zip(x, d)])[1]",
        "minus = first_derivative(*[t - h * e for t, e in zip(x, d)])[1]",
        "numerical = [(p - m) / (2 * h) for p, m in zip(plus, minus)]  # H d by central differences",
        f"for name, a, n in zip({list(names)!r}, analytic, numerical):",
        '    print(f"H d, double backward, d/d{name}:", a.tolist())',
        '    print(f"H d, finite differences, d/d{name}:", n.tolist())'])


def autograd(subject, case: Case, names, dtype: str = "float64", device: str = "cpu",
             grad_output: float = 1.0) -> dict[str, np.ndarray]:
    """``{name: d(loss)/d(name)}`` by autograd (an upstream gradient ``grad_output`` of the output's
    shape), as float64 NumPy; a gradient that does not reach an input (the output detached from
    it) is 0.  The forward call is held to the contract first, and a raise in backward is one
    too: a :class:`GradientError` diagnosing it (never a harness traceback, never a gradient)."""
    import torch

    from .specs import SPECS

    spec = SPECS[subject.loss]
    reduction = case.kwargs.get("reduction", "mean")
    f, inputs = torch_function_of(subject, case, list(names), reduction, dtype, device)
    fail = lambda diagnosis: gradient_failure(spec, subject, case, names, dtype, device, diagnosis,
                                              grad_output=grad_output)
    try:
        out = f(*inputs)  # run_subject: the contract
        check_returned(out, dtype, device, np.shape(spec.call_reference(case)))
    except ContractBreach as exc:
        raise fail(str(exc)) from exc.__cause__
    try:
        upstream = torch.as_tensor(np.asarray(grad_output, dtype=np.float64)).to(out.device, out.dtype).expand_as(out)
        grads = torch.autograd.grad(out, inputs, upstream, allow_unused=True) \
            if out.requires_grad else [None] * len(inputs)
    except Exception as exc:
        raise fail(f"raises on valid input: {type(exc).__name__}: {str(exc).strip().splitlines()[0]} (in backward)"
                   ) from exc
    return {n: (np.zeros(t.shape) if g is None else g.detach().to("cpu", torch.float64).numpy())
            for n, g, t in zip(names, grads, inputs)}


def analytic(spec: LossSpec, case: Case) -> dict[str, np.ndarray]:
    import refimpl.grad

    return getattr(refimpl.grad, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs})


def nonfinite_gradients(grads: dict[str, np.ndarray], names) -> list[str]:
    return [f"d/d{n} = {np.array2string(grads[n], threshold=8)}" for n in names if not np.all(np.isfinite(grads[n]))]


def finite_gradient_failure(row: GradientRow, subject, case: Case, grads: dict[str, np.ndarray], dtype: str,
                            device: str) -> str:
    """The failure message of a finite-gradient row where autograd's ``grads`` (:func:`autograd`
    at ``case``, the row's case as the subject takes it) are not all finite: the one-line
    diagnosis, the values and a reproduction."""
    from .specs import SPECS

    bad = [n for n in row.wrt if not np.all(np.isfinite(grads[n]))]
    n = bad[0]
    at = tuple(int(k) for k in np.argwhere(~np.isfinite(grads[n]))[0])
    diagnosis = (f"non-finite gradient w.r.t. {', '.join(bad)} at {row.id}: {int(np.sum(~np.isfinite(grads[n])))} of "
                 f"{grads[n].size} element(s) of d/d{n}, element {at} is {float(grads[n][at])!r}")
    return (f"{headline(subject.qualname, diagnosis, row.loss, dtype, device, row.name)}\n"
            f"why it must be finite: {row.why}\ncase: {case!r}\n"
            + "".join(f"autograd d/d{k} = {grads[k].tolist()}\n" for k in bad)
            + "Reproduce:\n" + gradient_reproduction(SPECS[row.loss], subject, case, row.wrt, dtype, device))


def unrepresentable_gradient(spec: LossSpec, case: Case, names, dtype: str) -> str | None:
    """Why a finite gradient cannot be asked in ``dtype`` at ``case``: the exact gradient (the
    analytic one, at the case rounded to ``dtype``) exceeds the format's largest number -- a
    correct implementation returns inf there (float16 cosine at a zero vector: 8e5 > 65504)."""
    fmt = FORMATS[dtype]
    grads = analytic(spec, case.rounded(dtype))
    big = max((float(np.max(np.abs(grads[n]), initial=0.0)) for n in names), default=0.0)
    if np.isfinite(big) and big > fmt.max:
        return f"the exact gradient ({big:.3g}) exceeds {dtype}'s largest number ({fmt.max:.5g}): no finite answer exists"
    return None


def subgradient_problem(row: SubgradientRow, spec: LossSpec, subject, h: float = 1e-7) -> str | None:
    """None if ``subject``'s gradient at the kink lies between the analytic one-sided gradients
    (within the float64 gradient bound), else a description."""
    got = autograd(subject, row.case, [row.wrt])[row.wrt]
    sides = [analytic(spec, row.perturb(row.case, s * h)) for s in (-1.0, 1.0)]
    lo = np.minimum(sides[0][row.wrt], sides[1][row.wrt])
    hi = np.maximum(sides[0][row.wrt], sides[1][row.wrt])
    mag = np.maximum(sides[0][row.wrt + "__mag"], sides[1][row.wrt + "__mag"])
    # one-sided gradients at distance h from the kink differ from the limits by O(h) (smooth branches)
    tol = gradient_bound(FLOAT64, mag, got.size) + 4 * h * (1 + mag)
    outside = ~((got >= lo - tol) & (got <= hi + tol))
    if not np.any(outside):
        return None
    i = np.unravel_index(int(np.argmax(outside)), outside.shape)
    diagnosis = (f"gradient outside the bound w.r.t. {row.wrt}: outside the subdifferential at the kink {row.id} "
                 f"({int(outside.sum())} of {outside.size} element(s))")
    return (f"{headline(subject.qualname, diagnosis, row.loss, 'float64', 'cpu', row.name)}\n"
            f"element {tuple(int(k) for k in i)}: autograd {float(got[i])!r}, subdifferential [{float(lo[i])!r}, "
            f"{float(hi[i])!r}] (the one-sided analytic gradients at -+{h:g}) +- {float(tol[i]):.3e}\n"
            f"why: {row.why}\ncase: {row.case!r}\nReproduce:\n"
            + gradient_reproduction(spec, subject, row.case, [row.wrt], "float64", "cpu"))
