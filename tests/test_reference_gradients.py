"""The analytic gradients ``refimpl.grad.<loss>`` agree with central finite differences
of the float64 references, for every loss, variant and reduction (and, marked
``mpmath``, with 60-digit derivatives of ``refimpl.exact``).

The finite-difference check and its tolerance
---------------------------------------------
For one element x_i of one differentiated argument, with a step ``h`` and the
scalar ``phi = <grad_output, loss>`` (for reduction 'none' only the one term that
depends on x_i -- every loss here is elementwise, row-wise or group-wise, and the
reference computes the other terms bit-identically at every stencil point, so they
cancel exactly):

    D_h  = (phi(x + h) - phi(x - h)) / ((x + h) - (x - h))          (rounded points)
    D_2h = (phi(x + 2h) - phi(x - 2h)) / ((x + 2h) - (x - 2h))

* truncation: D_h = phi' + c h^2 + O(h^4), D_2h = phi' + 4 c h^2 + ...; so
  |c h^2| ~ |D_2h - D_h| / 3 (Richardson's estimate, measured, not assumed);
* rounding: each phi value is within R of its exact value, where R is the
  suite's bound on the reference's error (``bound_for``: ``2 u64 * budget``, twice
  what ``test_reference_exact`` verifies the references meet against mpmath), so
  D_h has rounding error <= rho_h = 2R / ((x+h) - (x-h)) ~ R / h (and rho_2h ~ R / 2h);
* together |D_h - phi'| <= |D_2h - D_h| / 3 + (4/3) rho_h + rho_2h / 3; the test
  demands ``|grad - D_h| <= |D_2h - D_h| + 2 rho_h + rho_2h + 16 u64 mag``: a safety
  factor 3 on the truncation estimate, 1.5 on rounding, and 16 u64 * mag (the analytic
  gradient's own rounding, ``mag`` being the ``<arg>__mag`` the gradient returns).

The step is h = eps64^(1/3) max(|x_i|, S_i) -- the optimum of truncation (~h^2) against
rounding (~eps / h) --, with S_i the scale of the quantities x_i is combined with (1 by
default, the partner's magnitude for a residual, the row's for a distance or a softmax),
so that x_i +- h is resolvable where x_i is 0 beside large partners; cosine's is the row's
own sqrt(|a|^2 + EPS).  Cross-entropy's logits act through differences with a unit
curvature scale while the reference rounds at ~u |x|: h = eps^(1/3) max(1, |x|)^(1/3)
(at least 1024 ulps), and live logits whose step would exceed 1e-2 (|x| > ~4e9) are not
differenced.  On a bounded domain (bce's input and target in [0, 1], kl_div's probability
target >= 0) the step is relative to the distance to the boundary.

With smooth, O(1)-scaled losses this tolerance is ~1e-10..1e-7 relative: a gradient 0.1 %
off fails (``test_wrong_gradients_are_rejected``).  Where the loss's magnitude dwarfs the
one element's contribution (a 'sum' over terms of 1e100 and 1e-100) the tolerance honestly
becomes loose for that element; the 'none' check, which differences the element's own
term, still resolves it.  R is evaluated at each stencil point (the term's size there,
not at x: a step can dwarf a tiny residual).

Keyword tensors (``weight``, ``pos_weight``) are differenced like the positional ones, with a
step relative to the weight itself (weights are positive; a loss is linear in them, or rational
for a weighted 'mean') and, for reduction 'none', phi summed over every term (a broadcast weight
enters several terms).

Kinks: finite differences are invalid where x +- 4h crosses a non-differentiable point.
Each loss has a *branch signature* (which side of every kink each term is on: |r| < delta,
the hinge's sign, the sign of a distance's components, swap's choice, ...); an element is
checked only if the signature is the same at x, x +- h, x +- 2h and x +- 4h.  Elements
where the returned gradient is a documented convention rather than the derivative of the
reference (torch's BCE EPSILON region, the boundary values, an all-ignored 'mean') are
not differenced.  Every case still checks the gradients' shapes and non-negative mags.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import refimpl.grad as RG
from properties.formats import FLOAT64
from properties import finite_differences as FD
from properties.specs import SPECS, UNITS
from properties.tolerance import bound

U64 = FLOAT64.u
#: elements differenced per argument and reduction (chosen by Hypothesis)
MAX_ELEMENTS = 4
STENCIL = (-2, -1, 1, 2)
SIGNATURE_POINTS = (-4, -2, -1, 1, 2, 4)


# ---- per-loss knowledge of the test: each unit's FINITE_DIFFERENCES (properties.finite_differences) ----

def _knowledge(loss):
    return UNITS[loss].FINITE_DIFFERENCES


# ---- the check -----------------------------------------------------------------------

def _array(case, arg):
    """A differentiated argument's array, positional or keyword."""
    return case.args[arg] if arg in case.args else case.kwargs[arg]


def _with(case, arg, idx, value):
    a = _array(case, arg).copy()
    a[idx] = value
    if arg in case.args:
        return type(case)({**case.args, arg: a}, case.kwargs)
    return case.with_kwargs(**{arg: a})


def _weight_step(case, arg):
    return FD.H0 * np.abs(case.kwargs[arg])


def _all_terms(case, arg, idx):
    return Ellipsis


def _no_skip_weight(case, arg):
    return np.zeros(case.kwargs[arg].shape, dtype=bool)


#: a keyword tensor (a weight): relative step, no convention points, every term depends on it
WEIGHT_KNOWLEDGE = (_weight_step, _no_skip_weight, _all_terms)


def _reference(spec, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spec.call_reference(case)


def _gradient(loss, case, grad_output):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {**SPECS[loss].reference_kwargs, **case.kwargs}
        return getattr(RG, loss)(*case.args.values(), **kwargs, grad_output=grad_output)


def _bounds(spec, case, reductions):
    """The reference's outputs and error bounds (``bound_for``'s, once per point) for each reduction."""
    terms = _reference(spec, case.with_kwargs(reduction="none"))
    budget = spec.scale(case, terms)
    gain = spec.underflow(case, terms) if spec.underflow else 1.0
    outs, bounds = {}, {}
    for reduction in reductions:
        out = terms if reduction == "none" else _reference(spec, case.with_kwargs(reduction=reduction))
        denom = spec.denominator(case, terms, reduction) if reduction not in ("none", "sum") else None
        outs[reduction] = out
        bounds[reduction] = np.broadcast_to(bound(FLOAT64, reduction, terms, budget, out, denom, gain), np.shape(out))
    return outs, bounds


def _max_to(a, shape):
    """``a`` (a step for every term) reduced to an argument's ``shape`` by the largest step over the
    terms an element was broadcast to."""
    a = np.asarray(a)
    lead = a.ndim - len(shape)
    if lead > 0:
        a = a.max(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and i < a.ndim and a.shape[i] != 1)
    return np.broadcast_to(a.max(axis=axes, keepdims=True) if axes else a, shape)


def _broadcast_arg(case, arg):
    """A positional argument smaller than the broadcast shape of the positional arguments."""
    if arg not in case.args:
        return False
    try:
        full = np.broadcast_shapes(*(np.shape(v) for v in case.args.values()))
    except ValueError:  # arguments with event dimensions of their own (class logits and labels)
        return False
    return np.shape(case.args[arg]) != full


def fd_comparisons(spec, case, arg, idx, grads, grad_outputs):
    """``{reduction: (|grad - D_h|, tol, D_h)}`` for one element, or None where the stencil
    crosses a kink or the element is a convention point."""
    fd = _knowledge(spec.name)
    step, signature, skip, term_of = fd.step, fd.signature, fd.skip, fd.term
    if arg in case.kwargs:
        step, skip, term_of = WEIGHT_KNOWLEDGE
    h = float(_max_to(step(case, arg), _array(case, arg).shape)[idx])
    x0 = float(_array(case, arg)[idx])
    if not (h > 0 and np.isfinite(h)) or skip(case, arg)[idx]:
        return None
    base_sig = signature(case)
    for k in SIGNATURE_POINTS:
        if not np.array_equal(signature(_with(case, arg, idx, x0 + k * h)), base_sig):
            return None  # a kink within x +- 4h
    # an argument broadcast over the terms moves several of them: phi = <grad_output, terms> (the
    # definition of the vector-Jacobian product), its rounding bound the |go|-weighted sum
    term = Ellipsis if _broadcast_arg(case, arg) else term_of(case, arg, idx)
    pts = {k: x0 + k * h for k in STENCIL}
    if pts[1] == pts[-1] or pts[2] == pts[-2]:
        return None  # the step is below x's spacing (a bounded-domain step next to the boundary)
    at = {k: _bounds(spec, _with(case, arg, idx, pts[k]), grad_outputs) for k in STENCIL}
    result = {}
    for reduction, go in grad_outputs.items():
        grad, mag = float(grads[reduction][arg][idx]), float(grads[reduction][arg + "__mag"][idx])
        if reduction == "none":
            if term is None:  # no term depends on this element (dice's excluded background)
                result[reduction] = (abs(grad), 16 * U64 * mag, 0.0)
                continue
            if term is Ellipsis:  # every term: phi = <grad_output, terms>, its bound the |go|-weighted sum
                g, pick, pick_bound = 1.0, (lambda a: float(np.sum(go * a))), (lambda a: float(np.sum(np.abs(go) * a)))
            else:
                g = float(np.asarray(go)[term])
                pick = pick_bound = lambda a: float(np.asarray(a)[term])
        else:
            g, pick, pick_bound = float(go), float, float
        phi = {k: g * pick(at[k][0][reduction]) for k in STENCIL}
        if not all(np.isfinite(v) for v in phi.values()):
            continue  # an undefined loss (all targets ignored: 0/0); the gradient is a convention
        r = {k: abs(g) * pick_bound(at[k][1][reduction]) for k in STENCIL}
        d1 = (phi[1] - phi[-1]) / (pts[1] - pts[-1])
        d2 = (phi[2] - phi[-2]) / (pts[2] - pts[-2])
        rho1 = (r[1] + r[-1]) / (pts[1] - pts[-1])
        rho2 = (r[2] + r[-2]) / (pts[2] - pts[-2])
        tol = abs(d2 - d1) + 2 * rho1 + rho2 + 16 * U64 * mag
        if not np.isfinite(d1):  # a derivative beyond float64's range (-t/x at a subnormal x)
            if d1 == grad:
                result[reduction] = (0.0, 0.0, d1)
            continue
        result[reduction] = (abs(grad - d1), tol, d1)
    return result


def _draw_grad_output(data, reduction, shape):
    if reduction == "none":
        return data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([1.0, -1.0, 0.5, 2.0, -0.25, 0.0])),
                         label="grad_output")
    return data.draw(st.sampled_from([1.0, -1.0, 0.37, 3.0]), label="grad_output")


def _differentiated(loss, case):
    return RG.differentiated(loss, case.args, case.kwargs)


def check_case(spec, case, data, mutate=None):
    """Run the FD comparison over every reduction; return (checked, failures)."""
    loss = spec.name
    grad_outputs, grads = {}, {}
    for reduction in spec.reductions:
        rcase = case.with_kwargs(reduction=reduction)
        out = _reference(spec, rcase)
        go = grad_outputs[reduction] = _draw_grad_output(data, reduction, out.shape)
        grads[reduction] = _gradient(loss, rcase, go)
        if mutate is not None:
            grads[reduction] = mutate(loss, rcase, grads[reduction], go)
    checked, failures = 0, []
    for arg in _differentiated(loss, case):
        for reduction in spec.reductions:
            g, mag = grads[reduction][arg], grads[reduction][arg + "__mag"]
            assert g.shape == _array(case, arg).shape and mag.shape == g.shape, (arg, g.shape, mag.shape)
            assert not np.any(mag < 0)
        n = _array(case, arg).size
        picks = data.draw(st.permutations(range(n)), label=f"elements of {arg}")[:MAX_ELEMENTS] if n else []
        for flat in picks:
            idx = np.unravel_index(flat, _array(case, arg).shape)
            res = fd_comparisons(spec, case, arg, idx, grads, grad_outputs)
            for reduction, (err, tol, fd) in (res or {}).items():
                checked += 1
                if not err <= tol:
                    failures.append(f"{reduction} d/d{arg}{tuple(map(int, idx))}: analytic "
                                    f"{grads[reduction][arg][idx]!r}, finite difference {fd!r}, "
                                    f"|diff| {err:.3e} > tol {tol:.3e}")
    return checked, failures


def _params(extra=True):
    for spec in SPECS.values():
        for variant in spec.variants:
            yield pytest.param(spec, variant, {}, id=f"{spec.name}-{variant}")
            if extra and spec.name == "bce":  # the mathematics too (the spec compares torch's clamp)
                yield pytest.param(spec, variant, {"clamp_log": False}, id=f"{spec.name}-{variant}-clamp_log=False")


@pytest.mark.parametrize("spec, variant, override", list(_params()))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data())
def test_gradient_matches_finite_differences(spec, variant, override, data):
    case = data.draw(spec.cases(variant, FLOAT64), label="case").with_kwargs(**override)
    _, failures = check_case(spec, case, data)
    assert not failures, f"{spec.name}[{variant}]\ncase: {case!r}\n" + "\n".join(failures)


@pytest.mark.parametrize("spec, variant, override", list(_params(extra=False)))
@settings(max_examples=5)
@given(data=st.data())
def test_default_grad_output(spec, variant, override, data):
    """grad_output=None means ones ('none') and 1.0 (reduced), and the gradient is deterministic."""
    case = data.draw(spec.cases(variant, FLOAT64), label="case")
    for reduction in spec.reductions:
        rcase = case.with_kwargs(reduction=reduction)
        out = _reference(spec, rcase)
        ones = np.ones(out.shape) if reduction == "none" else 1.0
        a, b = _gradient(spec.name, rcase, None), _gradient(spec.name, rcase, ones)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=True), k


# ---- the tolerance rejects wrong gradients --------------------------------------------

def _fixed_cases():
    """One moderate, well-conditioned case per loss (its unit's ``FINITE_DIFFERENCES.fixed_case``), the
    same on every call."""
    return {loss: _knowledge(loss).fixed_case(np.random.default_rng(20240611)) for loss in SPECS}


def _scale_mutant(loss, case, grads, go):
    return {k: (v if k.endswith("__mag") else v * (1 + 1e-3)) for k, v in grads.items()}


def _dropped_mutant(loss, case, grads, go):
    drop = _knowledge(loss).dropped
    wrong = _gradient(loss, drop(case) if callable(drop) else case.with_kwargs(**drop), go)
    # an argument the dropped parameter removes (the weight itself) has no gradient left: 0
    return {k: (grads[k] if k.endswith("__mag") else wrong.get(k, np.zeros_like(grads[k]))) for k in grads}


def _detached_mutant(loss, case, grads, go):
    """Every differentiated argument but the first two (the weights, focal's / dice's targets)
    treated as a constant: gradient 0 -- a detached weight, a custom backward returning None."""
    later = _differentiated(loss, case)[2:] or _differentiated(loss, case)[1:]
    return {k: (np.zeros_like(v) if k in later else v) for k, v in grads.items()}


@pytest.mark.parametrize("loss", sorted(SPECS))
@settings(max_examples=3, derandomize=True)
@given(data=st.data())
def test_wrong_gradients_are_rejected(loss, data):
    """The same comparison accepts the gradient and rejects it scaled by 1 + 1e-3, with a
    term dropped (weight, label smoothing, pos_weight, eps, margin, ... ignored) and with the
    later differentiated arguments (weights, targets) detached."""
    spec, case = SPECS[loss], _fixed_cases()[loss]
    checked, failures = check_case(spec, case, data)
    assert checked and not failures, failures
    for mutant in (_scale_mutant, _dropped_mutant, _detached_mutant):
        if mutant is _detached_mutant and len(_differentiated(loss, case)) < 2:
            continue  # one differentiated argument (hinge_embedding): nothing else to detach
        checked, failures = check_case(spec, case, data, mutate=mutant)
        assert failures, f"{loss}: {mutant.__name__} passed {checked} finite-difference comparisons"


# ---- optional: 60-digit derivatives of refimpl.exact ----------------------------------

@pytest.mark.mpmath
@pytest.mark.parametrize("loss", sorted(SPECS))
@settings(max_examples=3, derandomize=True)
@given(data=st.data())
def test_gradient_matches_mpmath(loss, data):
    """d/dx_i of the 60-digit transcription (mpmath.diff, high-order) at a few elements of
    the fixed moderate case: the analytic gradient is within 64 u64 mag + 1e-30 of it."""
    mpmath = pytest.importorskip("mpmath")
    exact = pytest.importorskip("refimpl.exact")
    spec, case = SPECS[loss], _fixed_cases()[loss]
    reduction = data.draw(st.sampled_from(spec.reductions))
    rcase = case.with_kwargs(reduction=reduction)
    grads = _gradient(loss, rcase, None)
    for arg in _differentiated(loss, case):
        x = _array(case, arg)
        for flat in data.draw(st.permutations(range(x.size)))[:2]:
            idx = np.unravel_index(flat, x.shape)
            if arg in case.args and _knowledge(loss).skip(case, arg)[idx]:
                continue

            def f(v, arg=arg, idx=idx):
                a = np.array(x, dtype=object)
                a[idx] = v
                args = {**case.args, arg: a} if arg in case.args else case.args
                kwargs = rcase.kwargs if arg in case.args else {**rcase.kwargs, arg: a}
                out = _exact_on_objects(exact, loss)(args, kwargs)
                return mpmath.fsum(list(np.asarray(out, dtype=object).ravel()))

            with mpmath.workdps(60):
                want = float(mpmath.diff(f, mpmath.mpf(float(x[idx]))))
            got, mag = float(grads[arg][idx]), float(grads[arg + "__mag"][idx])
            assert abs(got - want) <= 64 * U64 * mag + 1e-30, (loss, reduction, arg, idx, got, want)


def _exact_on_objects(exact, loss):
    """Call ``refimpl.exact.<loss>`` on arrays whose differentiated entry is an mpf (its ``_mp``
    keeps mpf entries of object arrays)."""
    fn = getattr(exact, loss)
    return lambda args, kwargs: fn(*args.values(), **kwargs)
