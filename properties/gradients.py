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

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .agreement import ContractBreach, _describe
from . import broadcast as B
from .broadcast import with_difference
from .cases import Case
from .diagnosis import check_returned, headline, imports, parts, run_subject, script
from .edge_cases.row import find_known_failure
from .known import KnownDeviation
from .conventions import gradcheck_refusal
from .formats import FLOAT64, FORMATS, FloatFormat
from .spec import LossSpec
from .tolerance import gradient_bound, gradient_flush, gradient_underflow_gain, sequential_sum
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


def differentiable(spec: LossSpec, case: Case, subject=None) -> list[str]:
    """The arguments of ``DIFFERENTIABLE`` this case passes as floating tensors (a plug-in fitted
    without ``weight`` has none to differentiate; class-index targets are integers), less the
    arguments ``subject`` treats as labels (``Subject.labels``)."""
    labels = getattr(subject, "labels", ())
    return [n for n in _differentiated(spec.name, case.args, case.kwargs) if n not in labels]


def _array(case: Case, name: str) -> np.ndarray:
    return case.args[name] if name in case.args else case.kwargs[name]





#: torch's refusal messages (autograd's check in VariableType, and the older derivatives.yaml one)
_REFUSAL = re.compile(r"not differentiable with respect to argument '(\w+)'|derivative for '?(\w+)'? is not implemented")


def refused_argument(exc: BaseException) -> str | None:
    """The argument an exception says torch refuses to differentiate, or None."""
    m = _REFUSAL.search(str(exc))
    return (m.group(1) or m.group(2)) if m else None


def _table(name: str):
    """A per-loss table gathered from the units (``properties/specs/<loss>.py``) on first use -- the
    units import this module's row types and helpers:

    * ``AWAY_FROM_KINKS``: loss -> its ``away_from_kinks(case) -> Case``, the smooth point near a drawn case;
    * ``AT_COINCIDENCE``: loss -> its ``at_coincidence(case, mask, fmt) -> Case`` where it has one (``mask``
      has the shape of the unreduced terms): coincident inputs where the loss is differentiable;
    * ``REFUSED``: (loss, argument) -> :class:`Refusal`, each argument torch 2.13 does not differentiate
      (measured: ``properties.deviations.torch_refuses_weight_gradients``);
    * ``FINITE_GRADIENT_ROWS``, ``SUBGRADIENT_ROWS``: every unit's ``GRADIENT_ROWS``, ``SUBGRADIENT_ROWS``."""
    if name not in _TABLES:
        from .specs import UNITS

        _TABLES.update(
            AWAY_FROM_KINKS={loss: u.away_from_kinks for loss, u in UNITS.items()},
            AT_COINCIDENCE={loss: u.at_coincidence for loss, u in UNITS.items() if u.at_coincidence is not None},
            REFUSED={(loss, arg): r for loss, u in UNITS.items() for arg, r in u.REFUSED.items()},
            FINITE_GRADIENT_ROWS=[r for u in UNITS.values() for r in u.GRADIENT_ROWS],
            SUBGRADIENT_ROWS=[r for u in UNITS.values() for r in u.SUBGRADIENT_ROWS])
    return _TABLES[name]


_TABLES: dict = {}


def __getattr__(name: str):
    if name in ("AWAY_FROM_KINKS", "AT_COINCIDENCE", "REFUSED", "FINITE_GRADIENT_ROWS", "SUBGRADIENT_ROWS"):
        return _table(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def without_refused(spec: LossSpec, subject, case: Case, names, dtype: str = "float64",
                    device: str = "cpu") -> tuple[list[str], list[str]]:
    """``(names kept, refusals)``: ``names`` less the arguments ``subject`` refuses to differentiate
    as a recorded ``REFUSED`` deviation (one probing forward call per refused argument; none
    when no name can be refused).  A refusal of an argument with no record is kept: the check then
    reports it as the finding it is (a raise on valid input, with the argument named)."""
    names = list(names)
    refusals = []
    while any((spec.name, n) in _table('REFUSED') and _table('REFUSED')[spec.name, n].applies(case) for n in names):
        f, inputs = torch_function_of(subject, case, names, case.kwargs.get("reduction", "mean"), dtype, device)
        try:
            f(*inputs)
        except Exception as exc:  # noqa: BLE001 -- anything else is left to the check's contract
            arg = refused_argument(exc.__cause__ if isinstance(exc, ContractBreach) and exc.__cause__ else exc)
            rec = _table('REFUSED').get((spec.name, arg))
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


def push(v: np.ndarray, kink, scale) -> np.ndarray:
    """Move entries of ``v`` closer than KINK_GAP * scale to ``kink`` to kink +- 2 KINK_GAP * scale."""
    gap = KINK_GAP * scale
    side = np.where(v >= kink, 1.0, -1.0)
    return np.where(np.abs(v - kink) < gap, kink + 2 * side * gap, v)


def residual_away(case: Case, at) -> Case:
    """input = target + r with |r| kept off ``at`` (a transition point) and off 0 when at = 0."""
    x, y = np.broadcast_arrays(case.args["input"], case.args["target"])
    r = x - y
    # relative to the transition itself (so |r| never crosses 0); off 0 (L1) relative to |y|
    scale = abs(at) if at > 0 else np.maximum(1.0, np.abs(y))
    r = np.sign(r + (r == 0)) * push(np.abs(r), at, scale)
    return with_difference(case, r)  # a broadcast pair keeps its shapes


def rows_apart(a: np.ndarray, b: np.ndarray, gap: float = 1.0) -> np.ndarray:
    """``b`` with every entry at least ``gap`` KINK_GAPs (relative) from ``a``'s: no small component of a - b."""
    scale = gap * np.maximum(1.0, np.abs(a))
    return a + push(b - a, 0.0, scale)








def margin_off(case: Case, value: np.ndarray, labels_active: np.ndarray) -> Case:
    """Shift ``margin`` so that ``margin - value`` is off 0 wherever the hinge is active."""
    m = case.kwargs["margin"]
    close = labels_active & (np.abs(m - value) < KINK_GAP * max(1.0, abs(m)))
    if np.any(close):
        m = m + 4 * KINK_GAP * max(1.0, abs(m))
    return case.with_kwargs(margin=m) if np.any(close) else case




















# ---- coincident and zero inputs ------------------------------------------------------
# Where a loss is differentiable at coincident inputs (a = b, r = 0, a distance of 0) its gradient
# there is checked like anywhere else: finite and equal to the analytic one.  That is where a
# transcription through sqrt(sum((a - b)^2)) or |r| = sqrt(r^2) has 0 * inf = NaN, and the smooth
# points above never go (they move inputs apart).  Each function takes a smooth point and a mask
# over its terms (elements or rows) and makes the masked terms coincide, only where the loss is
# differentiable there; ``fmt``: the dtype's format.


def residual_zero(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """input = target (r = 0) where masked: MSE, Huber and SmoothL1 (beta > 0) are quadratic there,
    gradient 0.  SmoothL1 with beta = 0 is L1, with a kink at 0: left to the subgradient rows."""
    if case.kwargs.get("beta", 1.0) == 0:
        return case
    x, y = np.broadcast_arrays(case.args["input"], case.args["target"])
    return with_difference(case, np.where(np.broadcast_to(mask, x.shape), 0.0, x - y))




def similar_pair(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """input2 = input1 with target 1 in the masked rows: the similar branch (contrastive: 0.5 d^2, a
    polynomial; cosine: 1 - cos, smooth at a = b) has gradient 0 there.  (The dissimilar branch has no
    gradient at d = 0 -- the direction (a - b) / d is undefined -- and is left to the finite-gradient rows.)"""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    return Case({**case.args, "input2": np.where(mask[..., None], a, b), "target": np.where(mask, 1.0, y)},
                case.kwargs)






def terms_shape(spec: LossSpec, case: Case) -> tuple:
    """The shape of the unreduced terms: the first argument's batch shape -- broadcast with the
    target's for the elementwise losses that broadcast (``properties.broadcast``)."""
    first = case.args[spec.arg_names[0]]
    if spec.name in B.BROADCASTS:
        return np.broadcast_shapes(first.shape, np.shape(case.args["target"]))
    return first.shape[: first.ndim - spec.event_dims]


def smooth_cases(spec: LossSpec, variant: str, fmt: FloatFormat = GRADCHECK_FORMAT, coincident: bool = False,
                 short: bool = False):
    """The loss's strategy at moderate magnitudes (``fmt``), moved off every kink; ``coincident``: in
    half of the examples, a random subset of the terms (at least one) moved to coincident inputs
    (the unit's ``at_coincidence``) where the loss has one; ``short``: no long reduction (``strategies.long_terms``)
    -- for ``torch.autograd.gradcheck``, whose finite differences call the loss twice per input element
    (a 4096-term example: over 8000 calls, 20 s of a gate run), where a long sum adds nothing the
    vector-Jacobian comparison of ``check_gradient`` does not check on it."""
    away = _table('AWAY_FROM_KINKS')[spec.name]
    drawn = spec.cases(variant, fmt)
    if short:
        from .strategies import LONG_TERMS

        drawn = drawn.filter(lambda c: spec.summed(c) < LONG_TERMS[0])
    if spec.name == "triplet_margin":  # its gap depends on the dtype's underflow
        cases = drawn.map(lambda c: away(c, fmt))
    else:
        cases = drawn.map(away)
    coincide = _table('AT_COINCIDENCE').get(spec.name)
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


def term_cotangents(shape: tuple, reduction: str, grad_output) -> np.ndarray:
    """Each term's upstream gradient, of the terms' ``shape``: the output's for 'none', the number
    divided by the number of terms for 'mean' (a mean-like reduction's divide comes first in the backward)."""
    g = np.abs(np.broadcast_to(np.asarray(grad_output, dtype=np.float64), shape if reduction == "none" else ()))
    return np.broadcast_to(g / max(int(np.prod(shape)), 1) if reduction == "mean" else g, shape)


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


class GradientBounds(NamedTuple):
    """What a gradient comparison holds autograd's gradients to (``gradient_bounds``)."""

    ref: dict  # refimpl.grad's gradients (and each one's ``__mag``)
    bound: dict  # name -> the largest admissible |autograd - analytic| of each element (gradient_bound)
    floor: dict  # name -> its part that is not relative: what the subnormal range may cost (the bound at magnitude 0)
    overflows: dict  # name -> where the local derivative is beyond the dtype's range (an infinite gradient admitted)


def gradient_bounds(spec: LossSpec, case: Case, names, dtype: str, grad_output: float = 1.0) -> GradientBounds:
    """The bounds of ``names``' gradients at ``case`` (rounded to ``dtype``, reduction in its kwargs)
    with upstream gradient ``grad_output`` (:class:`GradientBounds`)."""
    import refimpl.grad

    spec = spec.in_dtype(dtype)  # a plug-in's declared conventions in this dtype (properties.conventions)
    fmt = spec.fmt(dtype)
    reduction = case.kwargs.get("reduction", "mean")
    terms = spec.call_reference(case, reduction="none")
    up = (np.broadcast_to(np.asarray(grad_output, dtype=np.float64), np.shape(spec.call_reference(case))).copy()
          if reduction == "none" else float(grad_output))
    ref = getattr(refimpl.grad, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs},
                                          grad_output=up)
    # what an intermediate below the normal range costs: the backward's own intermediates where the unit
    # models them (an absolute amount, ``LossSpec.gradient_underflow``), else the forward's underflow gain
    # (``LossSpec.underflow``: its chain recomputed by the backward); the weights multiply either
    if spec.gradient_underflow is not None:
        gain = gradient_underflow_gain(case)
        flush = gradient_flush(spec, fmt) + spec.gradient_underflow(case, fmt, term_cotangents(np.shape(terms), reduction, up))
    else:
        gain = gradient_underflow_gain(case, spec.underflow(case, terms) if spec.underflow else 1.0)
        flush = gradient_flush(spec, fmt)
    # the local derivatives (every term's upstream gradient 1): a backward forms them before the cotangent
    # scales them, so where one is beyond the dtype's range the gradient may be inf whatever the cotangent
    # (float16 bce_with_logits, x = -709, pos_weight 100: d/dt = 70900 > 65504, times 1/16 is 4431)
    local = getattr(refimpl.grad, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs,
                                                                     "reduction": "none"})
    bounds, floors, overflows = {}, {}, {}
    for name in names:
        arg = _array(case, name)
        # a keyword tensor (a weight) collects every term it multiplies (and a weighted mean, the loss itself); a
        # positional one its row, and the terms it was broadcast to (mse's (3,) target against a (4, 3) input)
        n_summed = np.size(terms) if name in case.kwargs else max(arg.shape[-1] if arg.ndim else 1,
                                                                   np.size(terms) // max(np.size(arg), 1))
        collected = max(1, np.size(terms) // max(np.size(arg), 1))  # terms summed into one of its elements
        sequential = sequential_sum(np.shape(arg), np.shape(terms))  # torch's sum over split broadcast dims
        bounds[name] = gradient_bound(fmt, ref[name + "__mag"], n_summed, gain, flush, collected, sequential)
        floors[name] = float(gradient_bound(fmt, 0.0, n_summed, gain, flush, collected, sequential))
        overflows[name] = local[name + "__mag"] > fmt.max
    return GradientBounds(ref, bounds, floors, overflows)


def compare_gradients(spec: LossSpec, case: Case, names, grads: dict, dtype: str, grad_output: float = 1.0):
    """Autograd's gradients ``grads`` (``{name: float64 array}``) of the loss at ``case`` (rounded to
    ``dtype``, reduction in its kwargs) against ``refimpl.grad`` within ``gradient_bound``: ``(largest
    error / bound, diagnosis, detail)`` -- the diagnosis of the first input outside the bound
    ("non-finite gradient w.r.t. ..." / "gradient outside the bound w.r.t. ..."), or None."""
    fmt = spec.in_dtype(dtype).fmt(dtype)
    ref, bounds, _, overflowing = gradient_bounds(spec, case, names, dtype, grad_output)
    worst = 0.0
    for name in names:
        want, mag, got, bnd, overflows = ref[name], ref[name + "__mag"], grads[name], bounds[name], overflowing[name]
        with np.errstate(invalid="ignore"):
            same = (got == want) | (np.isnan(got) & np.isnan(want)) | (overflows & np.isinf(got) & (got * want > 0))
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
    names, refusals = without_refused(spec, subject, case, differentiable(spec, case, subject), dtype, device)
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




@dataclass(frozen=True)
class GradientRow:
    """A point training hits at an extreme: the gradient w.r.t. ``wrt`` must be finite there
    (for the torch subject through autograd, and for the analytic ``refimpl.grad``)."""

    loss: str
    name: str
    case: Case
    wrt: tuple[str, ...]
    why: str
    known_failures: tuple[KnownDeviation, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def known_failure(self, qualname: str, dtype: str) -> KnownDeviation | None:
        return find_known_failure(self.known_failures, qualname, dtype)


def fixed_case(args: dict, **kwargs) -> Case:
    return Case({k: np.array(v, dtype=float) if not isinstance(v, np.ndarray) else v for k, v in args.items()},
                {"reduction": "sum", **kwargs})




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


def shift_input(name: str, index: int):
    def perturb(case: Case, h: float) -> Case:
        v = case.args[name].copy()
        v.flat[index] += h
        return Case({**case.args, name: v}, case.kwargs)
    return perturb


def shift_kwarg(key: str):
    return lambda case, h: case.with_kwargs(**{key: case.kwargs[key] + h})




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


def analytic(spec: LossSpec, case: Case, grad_output=None) -> dict[str, np.ndarray]:
    """``refimpl.grad.<loss>`` on ``case`` (``grad_output``: the upstream gradient, default ones)."""
    import refimpl.grad

    return getattr(refimpl.grad, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs},
                                            grad_output=grad_output)


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
