"""Each gradient check fails on a deliberately wrong implementation (a wrong backward, a
gradient off by 128 u, a NaN-producing stabiliser, a gradient outside the subdifferential),
while the torch built-in passes it (tests/gate/test_gradients.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from torch.autograd.gradcheck import GradcheckError

from properties.cases import Case
from properties.formats import DTYPE_NAMES, FORMATS
from properties.gradients import (
    AT_COINCIDENCE, FINITE_GRADIENT_ROWS, SUBGRADIENT_ROWS, GradientError, analytic, cotangents, terms_shape, autograd, check_gradient, differentiable,
    gradcheck_case, gradient_bounds, gradient_format, nonfinite_gradients, smooth_cases, subgradient_problem,
)
from properties.specs import SPECS
from properties.subjects import Subject, builtin_subjects

TORCH_LOSSES = [n for n, s in SPECS.items() if s.torch_function]


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the incoming gradient (a wrong custom backward)."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor, None


def _wrapped(spec, name, transform) -> Subject:
    (base,) = builtin_subjects(spec)

    def call(*args, **kwargs):
        return transform(base.fn, args, kwargs)

    return Subject(spec.name, name, f"mutant.{name}", call)


def wrong_backward(spec, factor):
    """Scales the gradient of every input by ``factor`` (the value is right)."""
    def transform(fn, args, kwargs):
        return fn(*[_ScaleGrad.apply(a, factor) if a.is_floating_point() else a for a in args], **kwargs)
    return _wrapped(spec, f"grad_times_{factor}", transform)


def nan_gradient(spec, wrt):
    """Adds 0 * sqrt(x - x.detach()): the value is unchanged, d/dx is 0 * inf = NaN."""
    names = list(spec.arg_names)

    def transform(fn, args, kwargs):
        out = fn(*args, **kwargs)
        x = args[names.index(wrt)]
        return out + 0.0 * torch.sqrt(x - x.detach()).sum()
    return _wrapped(spec, "nan_gradient", transform)


def shifted_gradient(spec, wrt, shift=3.0):
    """Adds shift * sum(x - x.detach()): the value is unchanged, the gradient moves by ``shift``."""
    names = list(spec.arg_names)

    def transform(fn, args, kwargs):
        x = args[names.index(wrt)]
        return fn(*args, **kwargs) + shift * (x - x.detach()).sum()
    return _wrapped(spec, "shifted_gradient", transform)


@pytest.mark.parametrize("loss", TORCH_LOSSES)
@settings(max_examples=2)
@given(data=st.data())
def test_gradcheck_catches_a_wrong_backward(loss, data):
    spec = SPECS[loss]
    case = data.draw(smooth_cases(spec, spec.variants[0], short=True)).with_kwargs(reduction="sum")
    names = differentiable(spec, case)
    # gradcheck's own tolerance is atol 1e-5 + rtol 1e-3: a gradient of 1e-3 off by 10% is beyond it
    assume(any(np.max(np.abs(g), initial=0) > 1e-3 for g in autograd(builtin_subjects(spec)[0], case, names).values()))
    with pytest.raises(GradcheckError):
        gradcheck_case(wrong_backward(spec, 1.1), case, names, "sum", second_order=False)


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("loss", TORCH_LOSSES)
@settings(max_examples=3)
@given(data=st.data())
def test_gradient_bound_catches_128_ulp(loss, dtype, data):
    """A backward off by a factor 1 + 128 u is rejected wherever some element is well-conditioned
    (magnitude <= 4 |gradient|), above the underflow floor and not summed term after term: the bound is
    (8 + log2 n) u * magnitude there.  (The floor -- what the dtype's subnormal range may cost, times the terms collected into
    the element -- is the bound's value at magnitude 0.)"""
    spec = SPECS[loss]
    case = data.draw(smooth_cases(spec, spec.variants[0], gradient_format(dtype))).rounded(dtype)
    reduction = data.draw(st.sampled_from(spec.reductions))
    names = differentiable(spec, case)
    ref, bound, floor, _ = gradient_bounds(spec, case.with_kwargs(reduction=reduction), names, dtype)
    u = FORMATS[dtype].u
    # (an element summed one term after another -- an argument broadcast over split dimensions,
    # tolerance.sequential_sum -- may lose n u: its bound is then beyond a 128 u error)
    conditioned = [np.any((128 * u * np.abs(ref[n]) > 4 * floor[n]) & (ref[n + "__mag"] <= 4 * np.abs(ref[n]))
                          & (bound[n] < 64 * u * np.abs(ref[n]))) for n in names]
    assume(any(conditioned))
    check_gradient(spec, builtin_subjects(spec)[0], case, dtype, "cpu", reduction)  # the built-in passes
    with pytest.raises(GradientError):
        check_gradient(spec, wrong_backward(spec, 1 + 128 * FORMATS[dtype].u), case, dtype, "cpu", reduction)


@pytest.mark.parametrize("row", [r for r in FINITE_GRADIENT_ROWS if r.loss in TORCH_LOSSES],
                         ids=lambda r: r.id)
def test_finite_gradient_row_catches_nan(row):
    spec = SPECS[row.loss]
    bad = nan_gradient(spec, row.wrt[0])
    assert nonfinite_gradients(autograd(bad, row.case, row.wrt), row.wrt)


@pytest.mark.parametrize("row", SUBGRADIENT_ROWS, ids=lambda r: r.id)
def test_subgradient_row_catches_a_gradient_outside(row):
    spec = SPECS[row.loss]
    assert subgradient_problem(row, spec, shifted_gradient(spec, row.wrt)) is not None


def sqrt_at_coincidence(spec, first, second):
    """Adds 0 * sqrt((first - second)^2) element by element: the value is unchanged, the gradient is
    0 * inf = NaN wherever the two coincide (what a distance written as sqrt(sum(d^2)) does there).
    ``second`` None: the zero tensor (hinge's distances of 0)."""
    names = list(spec.arg_names)

    def transform(fn, args, kwargs):
        a = args[names.index(first)]
        b = torch.zeros_like(a) if second is None else args[names.index(second)]
        return fn(*args, **kwargs) + 0.0 * torch.sqrt((a - b) ** 2).sum()
    return _wrapped(spec, "sqrt_at_coincidence", transform)


#: the pair each loss's coincident cases (``properties.gradients.AT_COINCIDENCE``) make equal
COINCIDENT_PAIR = {"mse": ("input", "target"), "huber": ("input", "target"), "smooth_l1": ("input", "target"),
                   "hinge_embedding": ("input", None), "cosine_embedding": ("input1", "input2"),
                   ("triplet_margin", False): ("anchor", "positive"), ("triplet_margin", True): ("anchor", "negative")}


def test_every_coincident_loss_has_a_can_fail_pair():
    """Each loss with coincident inputs is covered here (contrastive, which torch lacks, by the
    catalogue's contrastive_sqrt_distance)."""
    covered = {k if isinstance(k, str) else k[0] for k in COINCIDENT_PAIR} | {"contrastive"}
    assert covered == set(AT_COINCIDENCE)


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("loss", sorted(set(AT_COINCIDENCE) & set(TORCH_LOSSES)))
@settings(max_examples=3)
@given(data=st.data())
def test_gradient_check_catches_nan_at_coincident_inputs(loss, dtype, data):
    """The gradient comparison at coincident inputs (the cases ``smooth_cases(..., coincident=True)``
    draws half of the time) catches a NaN there, in every dtype, while the built-in passes."""
    spec = SPECS[loss]
    variant = data.draw(st.sampled_from(spec.variants))
    fmt = gradient_format(dtype)
    smooth = data.draw(smooth_cases(spec, variant, fmt))
    case = AT_COINCIDENCE[loss](smooth, np.ones(terms_shape(spec, smooth), bool), fmt)
    assume(case is not smooth)  # triplet: eps = 0 or eps^p below the dtype's normal range
    case = case.rounded(dtype)
    reduction = data.draw(st.sampled_from(spec.reductions))
    key = loss if loss in COINCIDENT_PAIR else (loss, bool(case.kwargs.get("swap")))
    check_gradient(spec, builtin_subjects(spec)[0], case, dtype, "cpu", reduction)  # the built-in passes
    with pytest.raises(GradientError, match="non-finite gradient"):
        check_gradient(spec, sqrt_at_coincidence(spec, *COINCIDENT_PAIR[key]), case, dtype, "cpu", reduction)


class _Upstream(torch.autograd.Function):
    """Identity on the loss's output; the backward mishandles the incoming gradient g: ``ignored``
    sends ones on (as if the loss were always the last op), ``averaged`` sends g.mean() to every element."""

    @staticmethod
    def forward(ctx, out, how):
        ctx.how = how
        return out.view_as(out)

    @staticmethod
    def backward(ctx, g):
        return (torch.ones_like(g) if ctx.how == "ignored" else g.mean().expand_as(g)), None


def mishandled_upstream(spec, how):
    return _wrapped(spec, f"upstream_{how}", lambda fn, args, kwargs: _Upstream.apply(fn(*args, **kwargs), how))


@pytest.mark.parametrize("how", ["ignored", "averaged"])
@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("loss", TORCH_LOSSES)
@settings(max_examples=2)
@given(data=st.data())
def test_random_cotangent_catches_a_backward_that_mishandles_it(loss, dtype, how, data):
    """With ones as the upstream gradient (what the comparison used to send) such a backward passes;
    with a cotangent that is not ones it fails, wherever some gradient element is well-conditioned.
    The cotangent is one ``cotangents`` draws, made to differ from what the mistake sends by at least
    its own size (negative for ``ignored``; alternating signs, mean ~0, for ``averaged``) so that
    the difference shows in bfloat16 too; the catalogue's mse_backward_* entries show the gate's
    own random draws catching both."""
    spec = SPECS[loss]
    case = data.draw(smooth_cases(spec, spec.variants[0], gradient_format(dtype))).rounded(dtype)
    reduction = "none" if how == "averaged" else data.draw(st.sampled_from(spec.reductions))
    shape = np.shape(spec.call_reference(case, reduction="none"))
    upstream = np.abs(data.draw(cotangents(shape, reduction)))
    if how == "ignored":
        upstream = -upstream
    else:
        assume(upstream.size >= 2)
        upstream = np.where(np.arange(upstream.size).reshape(shape) % 2 == 0, 1.0, -1.0)
    if reduction != "none":
        upstream = float(upstream)
    # where the gradient the mistake produces differs from the right one by a well-conditioned amount: a
    # broadcast input sums its terms' cotangents, which the mistake may get right (averaged: 1 - 1 = 0 = 2 * 0)
    sent = (np.ones(shape) if reduction == "none" else 1.0) if how == "ignored" else np.full(shape, np.mean(upstream))
    at = case.with_kwargs(reduction=reduction)
    right, wrong = analytic(spec, at, upstream), analytic(spec, at, sent)
    names = differentiable(spec, case)
    normal = 2 ** 10 * FORMATS[dtype].tiny
    assume(any(np.any((np.abs(right[n] - wrong[n]) > normal)
                      & (right[n + "__mag"] + wrong[n + "__mag"] <= 4 * np.abs(right[n] - wrong[n]))) for n in names))
    bad = mishandled_upstream(spec, how)
    check_gradient(spec, bad, case, dtype, "cpu", reduction, 1.0)  # ones: the mistake does not show
    with pytest.raises(GradientError):
        check_gradient(spec, bad, case, dtype, "cpu", reduction, upstream)


# ---- every differentiated argument: detaching it is caught ---------------------------------

from properties.gradients import DIFFERENTIABLE  # noqa: E402

_CORRECT = {"focal": "tests.catalogue.classification:sigmoid_focal_loss",
            "dice": "tests.catalogue.divergence_segmentation:dice",
            "contrastive": "tests.catalogue.embedding:ContrastiveLoss"}


def _base(spec) -> Subject:
    """The torch built-in, or (no torch function: focal, dice, contrastive) the catalogue's correct entry."""
    if spec.torch_function:
        return builtin_subjects(spec)[0]
    import importlib
    import inspect

    module, _, attr = _CORRECT[spec.name].partition(":")
    impl = getattr(importlib.import_module(module), attr)
    fn = (lambda *args, **kwargs: impl(**kwargs)(*args)) if inspect.isclass(impl) else impl  # an nn.Module
    return Subject(spec.name, "catalogue", _CORRECT[spec.name], fn, origin="plugin")


def detached(spec, arg) -> Subject:
    """Calls the base implementation with ``arg`` detached (``weight.detach()``, a custom backward
    returning None for it): every value right, d/d``arg`` 0."""
    base = _base(spec)
    names = list(spec.arg_names)

    def call(*args, **kwargs):
        if arg in names:
            args = [a.detach() if i == names.index(arg) else a for i, a in enumerate(args)]
        else:
            kwargs = {**kwargs, arg: kwargs[arg].detach()}
        return base.fn(*args, **kwargs)

    return Subject(spec.name, f"detached_{arg}", f"mutant.detached_{arg}", call, origin="plugin")


@pytest.mark.parametrize("loss, arg", [pytest.param(loss, arg, id=f"{loss}-{arg}")
                                       for loss, args in DIFFERENTIABLE.items() for arg in args])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_gradient_check_catches_a_detached_argument(loss, arg, data):
    """For every differentiated argument -- weights and targets included --, an implementation that
    treats it as a constant is rejected by test_gradient's check, where the base passes."""
    spec = SPECS[loss]
    variant = data.draw(st.sampled_from(spec.variants), label="variant")
    case = data.draw(smooth_cases(spec, variant, gradient_format("float64")), label="case")
    assume(arg in differentiable(spec, case))
    reduction = data.draw(st.sampled_from(spec.reductions), label="reduction")
    ref = analytic(spec, case.with_kwargs(reduction=reduction))
    assume(np.any(np.abs(ref[arg]) > 1e-6 * np.maximum(ref[arg + "__mag"], 1e-300)))  # a gradient to lose
    check_gradient(spec, _base(spec), case, "float64", "cpu", reduction)
    with pytest.raises(GradientError, match=f"w.r.t. {arg}"):
        check_gradient(spec, detached(spec, arg), case, "float64", "cpu", reduction)


# ---- a local derivative beyond the dtype's range: inf admitted there, and only there --------------

def test_overflowing_local_derivative_admits_inf_there_only():
    """A backward forms each term's local derivative before the cotangent scales it: where that
    derivative is beyond the dtype's range (float16 bce_with_logits, x = -709, t = 0, pos_weight 100:
    d/dt = 709 + 99 * 709 = 70900 > 65504) an inf is what a correct implementation returns, even for a
    cotangent of 1/16 that makes the exact product (4431) representable.  An inf anywhere else is a finding."""
    from properties.gradients import compare_gradients

    spec = SPECS["bce_with_logits"]
    case = Case({"input": np.array([[-709.0, -709.0]]), "target": np.array([[0.0, 0.0]])},
                {"pos_weight": np.array([100.0, 1.0]), "reduction": "none"})
    upstream = np.full((1, 2), 0.0625)
    check_gradient(spec, builtin_subjects(spec)[0], case, "float16", "cpu", "none", upstream)  # torch: inf at (0, 0)
    got = analytic(spec, case.rounded("float16"), upstream)
    names = ["input", "target"]
    grads = {n: got[n].copy() for n in names}
    grads["target"][0, 0] = np.inf  # where the local derivative overflows: admitted
    assert compare_gradients(spec, case.rounded("float16"), names, grads, "float16", upstream)[1] is None
    grads["target"][0, 1] = np.inf  # pos_weight 1: d/dt = 709 - 0 * 709 = 709 fits -- a finding
    diagnosis = compare_gradients(spec, case.rounded("float16"), names, grads, "float16", upstream)[1]
    assert diagnosis and diagnosis.startswith("non-finite gradient w.r.t. target"), diagnosis
