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
from properties.specs import SPECS
from properties.tolerance import bound
from refimpl.cross_entropy import _class_axis
from refimpl.triplet_margin import _shifted_difference, pairwise_distance

U64 = FLOAT64.u
H0 = np.finfo(np.float64).eps ** (1.0 / 3.0)
#: elements differenced per argument and reduction (chosen by Hypothesis)
MAX_ELEMENTS = 4
STENCIL = (-2, -1, 1, 2)
SIGNATURE_POINTS = (-4, -2, -1, 1, 2, 4)


# ---- per-loss knowledge of the test: step scale, kink signature, convention regions ----

def _rows_scale(case, arg):
    """Largest magnitude in the element's row over all float arguments (embedding losses)."""
    m = np.max([np.max(np.abs(v), axis=-1, keepdims=True) for v in case.args.values() if v.ndim == case.args[arg].ndim
                and v.dtype.kind == "f"], axis=0)
    return np.broadcast_to(np.maximum(m, 1.0), case.args[arg].shape)


def _cosine_scale(case, arg):
    """cos is homogeneous in each vector but for EPS: |a|^2 + EPS sets the scale of a's row."""
    v = case.args[arg]
    return np.broadcast_to(np.sqrt(np.sum(v * v, axis=-1, keepdims=True) + 1e-12), v.shape)


def _partner_scale(case, arg):
    x, y = case.args["input"], case.args["target"]
    return np.maximum(np.maximum(np.abs(x), np.abs(y)), 1.0)


def _ce_step(case, arg):
    """Softmax depends on logit differences with a unit curvature scale, and the reference's
    rounding is ~u |x|: the optimal step is eps^(1/3) max(1, |x|)^(1/3), at least 1024 ulps
    of x (representable).  Probability targets enter linearly: any step."""
    v = case.args[arg]
    if arg == "target":
        return H0 * np.maximum(np.abs(v), 1.0)
    return np.maximum(H0 * np.cbrt(np.maximum(np.abs(v), 1.0)), 1024 * np.spacing(np.abs(v)))


def _skip_ce(case, arg):
    """A logit that matters (within ~50 of its row's maximum) with a step too coarse for the
    unit curvature scale of softmax (huge logits: x +- h is not resolvable finely enough)."""
    x = case.args["input"]
    if arg != "input":
        return np.zeros(case.args[arg].shape, dtype=bool)
    h = _ce_step(case, arg)
    live = np.max(x, axis=_class_axis(x), keepdims=True) - x < 50 + 8 * h
    return live & (h > 1e-2)


def _dice_groups(case):
    p, g = case.args["input"], case.args["target"]
    kw = case.kwargs
    start = 0 if kw.get("include_background", True) or p.shape[1] == 1 else 1
    axes = tuple(range(2, p.ndim)) + ((0,) if kw.get("batch", False) else ())
    k = 2 if kw.get("squared_pred", False) else 1
    den = np.sum(p[:, start:] ** k, axis=axes, keepdims=True) + np.sum(g[:, start:] ** k, axis=axes, keepdims=True)
    return start, den + kw.get("smooth_dr", 1e-5)


def _dice_scale(case, arg):
    p = case.args["input"]
    start, den = _dice_groups(case)
    s = np.ones(p.shape)
    s[:, start:] = np.maximum(np.abs(p[:, start:]), den)
    return s


def _hinge_scale(case, arg):
    x = case.args["input"]
    return np.maximum(np.maximum(np.abs(x), abs(case.kwargs.get("margin", 1.0))), 1.0)


def _default_scale(case, arg):
    return np.maximum(np.abs(case.args[arg]), 1.0)


def _bce_step(case, arg):
    """bce's input and target live in [0, 1]: a step relative to the distance to the nearer end."""
    v = case.args[arg]
    return H0 * np.minimum(v, 1.0 - v)


def _focal_step(case, arg):
    """Soft targets live in [0, 1] (the loss is not a focal loss outside: 1 - p_t < 0): a step
    relative to the distance to the nearer end, as bce's; hard targets (0 / 1) are not differenced."""
    return _bce_step(case, arg) if arg == "targets" else H0 * _default_scale(case, arg)


def _kl_step(case, arg):
    v = case.args[arg]
    if arg == "target" and not case.kwargs.get("log_target", False):
        return H0 * np.abs(v)  # t >= 0: relative step, t = 0 (boundary) is not differenced
    return H0 * np.maximum(np.abs(v), 1.0)


def _sig_none(case):
    return np.zeros(0)


def _pieces(r, knot):
    """Which piece of a Huber-like function r is on: -1 (r < -knot), 0, 1 (r > knot); sign(r) for knot 0."""
    return np.where(r > knot, 1.0, np.where(r < -knot, -1.0, 0.0)).ravel() if knot > 0 else np.sign(r).ravel()


def _sig_huber(case):
    return _pieces(case.args["input"] - case.args["target"], case.kwargs.get("delta", 1.0))


def _sig_smooth_l1(case):
    return _pieces(case.args["input"] - case.args["target"], case.kwargs.get("beta", 1.0))


def _sig_bce(case):
    x = case.args["input"]
    with np.errstate(divide="ignore"):
        return np.concatenate([(np.log(x) >= -100).ravel(), (np.log1p(-x) >= -100).ravel()]).astype(float)


def _sig_hinge(case):
    x, y = case.args["input"], case.args["target"]
    return np.where(y == -1, np.sign(case.kwargs.get("margin", 1.0) - x), 0.0).ravel()


def _sig_triplet(case):
    a, p, n = (case.args[k] for k in ("anchor", "positive", "negative"))
    kw = case.kwargs
    pp, eps, m = float(kw.get("p", 2)), float(kw.get("eps", 1e-6)), kw.get("margin", 1.0)
    d_ap, d_an, d_pn = (pairwise_distance(u, v, pp, eps) for u, v in ((a, p), (a, n), (p, n)))
    d_neg = np.minimum(d_an, d_pn) if kw.get("swap", False) else d_an
    parts = [np.sign(m + d_ap - d_neg), np.sign(d_an - d_pn) if kw.get("swap", False) else np.zeros(0)]
    parts += [np.sign(_shifted_difference(u, v, eps)) for u, v in ((a, p), (a, n), (p, n))]
    return np.concatenate([np.ravel(q) for q in parts])


def _sig_cosine(case):
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    return np.ravel(np.where(y == -1, np.sign(cos - case.kwargs.get("margin", 0.0)), 0.0))


def _sig_contrastive(case):
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    v = a - b
    gap = case.kwargs.get("margin", 1.0) - np.sqrt(np.sum(v * v, -1))
    live = (y == -1) & (gap > 0)
    return np.concatenate([np.ravel(np.where(y == -1, np.sign(gap), 0.0)), np.ravel(np.sign(v) * live[..., None])])


def _skip_bce(case, arg):
    """Torch's conventions, not derivatives (clamp_log=True): the EPSILON floor of x(1-x)
    (input), the unclamped -logit (target) where the forward's log clamp at -100 is active."""
    x = case.args["input"]
    if not case.kwargs.get("clamp_log", SPECS["bce"].reference_kwargs.get("clamp_log", False)):
        return np.zeros(case.args[arg].shape, dtype=bool)
    if arg == "input":
        return (x * (1 - x) < 1e-12 * (1 + 1e-6)) | (x == 0) | (x == 1)
    with np.errstate(divide="ignore"):
        return (np.log(x) < -100) | (np.log1p(-x) < -100)


def _no_skip(case, arg):
    return np.zeros(case.args[arg].shape, dtype=bool)


def _term_elementwise(case, arg, idx):
    return idx


def _term_ce(case, arg, idx):
    axis = _class_axis(case.args["input"])
    return idx[:axis] + idx[axis + 1:]


def _term_row(case, arg, idx):
    return idx[:-1]


def _term_dice(case, arg, idx):
    start, _ = _dice_groups(case)
    if idx[1] < start:
        return None
    return (idx[1] - start,) if case.kwargs.get("batch", False) else (idx[0], idx[1] - start)


def _scaled(scale):
    return lambda case, arg: H0 * scale(case, arg)


#: loss -> (step(case, arg), signature(case), skip(case, arg), term index(case, arg, idx))
KNOWLEDGE = {
    "mse": (_scaled(_partner_scale), _sig_none, _no_skip, _term_elementwise),
    "huber": (_scaled(_partner_scale), _sig_huber, _no_skip, _term_elementwise),
    "smooth_l1": (_scaled(_partner_scale), _sig_smooth_l1, _no_skip, _term_elementwise),
    "cross_entropy": (_ce_step, _sig_none, _skip_ce, _term_ce),
    "bce": (_bce_step, _sig_bce, _skip_bce, _term_elementwise),
    "bce_with_logits": (_scaled(_default_scale), _sig_none, _no_skip, _term_elementwise),
    "focal": (_focal_step, _sig_none, _no_skip, _term_elementwise),
    "kl_div": (_kl_step, _sig_none, _no_skip, _term_elementwise),
    "hinge_embedding": (_scaled(_hinge_scale), _sig_hinge, _no_skip, _term_elementwise),
    "triplet_margin": (_scaled(_rows_scale), _sig_triplet, _no_skip, _term_row),
    "cosine_embedding": (_scaled(_cosine_scale), _sig_cosine, _no_skip, _term_row),
    "contrastive": (_scaled(_rows_scale), _sig_contrastive, _no_skip, _term_row),
    "dice": (_scaled(_dice_scale), _sig_none, _no_skip, _term_dice),
}


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
    return H0 * np.abs(case.kwargs[arg])


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
    step, signature, skip, term_of = KNOWLEDGE[spec.name]
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
    """One moderate, well-conditioned case per loss (O(1) values, no saturation), with the
    parameters whose omission the 'dropped term' mutants simulate."""
    r = np.random.default_rng(20240611)  # the same cases on every call
    n = lambda *s: r.standard_normal(s)
    u = lambda *s: r.uniform(0.05, 0.95, s)
    from properties.cases import Case
    return {
        "mse": Case({"input": n(3, 4), "target": n(3, 4)}, {"weight": u(3, 4) * 3}),
        "huber": Case({"input": n(3, 4), "target": n(3, 4)}, {"delta": 0.7, "weight": u(3, 4) * 3}),
        "smooth_l1": Case({"input": n(3, 4), "target": n(3, 4)}, {"beta": 1.5}),
        "cross_entropy": Case({"input": n(4, 5), "target": np.array([0, 3, 4, 1])},
                              {"weight": u(5) * 2, "label_smoothing": 0.2, "ignore_index": 3}),
        "bce": Case({"input": u(3, 4), "target": u(3, 4)}, {"weight": u(4) * 2}),
        "bce_with_logits": Case({"input": n(3, 4) * 2, "target": u(3, 4)}, {"pos_weight": u(4) * 3, "weight": u(3, 1) * 2}),
        "focal": Case({"inputs": n(3, 4) * 2, "targets": u(3, 4)}, {"alpha": 0.25, "gamma": 2.0}),
        "kl_div": Case({"input": -u(3, 4) * 3, "target": u(3, 4)}, {"log_target": False}),
        "hinge_embedding": Case({"input": u(3, 4), "target": -np.ones((3, 4))}, {"margin": 1.5}),
        "triplet_margin": Case({"anchor": n(4, 3), "positive": n(4, 3), "negative": n(4, 3)},
                               {"margin": 5.0, "p": 2.0, "eps": 1e-2, "swap": True}),
        "cosine_embedding": Case({"input1": n(4, 3), "input2": n(4, 3), "target": np.array([-1.0, 1.0, -1.0, 1.0])},
                                 {"margin": -0.5}),
        "contrastive": Case({"input1": n(4, 3), "input2": n(4, 3), "target": np.array([-1.0, 1.0, -1.0, 1.0])},
                            {"margin": 3.0}),
        "dice": Case({"input": u(2, 3, 4), "target": np.round(u(2, 3, 4))},
                     {"smooth_nr": 0.5, "smooth_dr": 0.5, "squared_pred": True, "include_background": True,
                      "batch": False}),
    }


#: loss -> keyword overrides that drop a term from the gradient (a plausible bug)
DROPPED = {
    "mse": {"weight": None}, "huber": {"weight": None}, "smooth_l1": {"beta": 0.0},
    "cross_entropy": {"label_smoothing": 0.0}, "bce": {"weight": None}, "bce_with_logits": {"pos_weight": None},
    "focal": {"gamma": 0.0}, "kl_div": {"log_target": True}, "hinge_embedding": {"margin": 0.0},
    "triplet_margin": {"eps": 0.0}, "contrastive": {"margin": 10.0},
    # cosine: the y = -1 branch dropped (every row treated as a similar pair)
    "cosine_embedding": lambda case: type(case)({**case.args, "target": np.ones(case.args["target"].shape)},
                                                case.kwargs),
    "dice": {"smooth_nr": 0.0, "smooth_dr": 1e-5},
}


def _scale_mutant(loss, case, grads, go):
    return {k: (v if k.endswith("__mag") else v * (1 + 1e-3)) for k, v in grads.items()}


def _dropped_mutant(loss, case, grads, go):
    drop = DROPPED[loss]
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
            if arg in case.args and KNOWLEDGE[loss][2](case, arg)[idx]:
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
