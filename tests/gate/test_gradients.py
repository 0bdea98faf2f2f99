"""Gradients of every implementation under test.

- ``test_gradcheck_<loss>``: torch.autograd.gradcheck and gradgradcheck in float64 w.r.t.
  every differentiable input, at generated points kept off every kink by construction
  (``properties.gradients.smooth_cases``).
- ``test_gradient_<loss>``: autograd's gradient in every dtype and device against the
  independent analytic gradient, half of the examples at coincident inputs where the loss has
  them (``properties.gradients.AT_COINCIDENCE``: a = b, r = 0, a distance of 0), each with a
  random upstream gradient (``cotangents``: per element for 'none', a number otherwise) (``refimpl.grad``, itself verified by finite differences
  and mpmath in test_reference_gradients.py), within ``tolerance.gradient_bound``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st
from torch.autograd.gradcheck import GradcheckError

from .matrix import recorded_subject  # noqa: E402
from properties.fit import admitted, discarding_recorded, fitted, not_applicable
from properties.formats import DTYPE_NAMES
from properties.gradients import (
    GradientError, check_gradient, cotangents, differentiable, gradcheck_case, gradient_format, smooth_cases,
)
from properties.specs import SPECS
from properties.edge_cases.row import known_for
from properties.known import allowed
from properties.subjects import subjects_for

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=[pytest.mark.cuda, CUDA])]

#: gradcheck differentiates numerically element by element (and gradgradcheck twice): a few
#: examples per variant, each with a drawn reduction -- 6 by default, 125 nightly.
GRADCHECK_EXAMPLES = max(3, settings().max_examples // 4)
EXAMPLES = max(4, settings().max_examples // 3)

def _sid(subject) -> str:
    """Test-id prefix: none for the torch built-in (ids as before), the subject's name otherwise."""
    return "" if subject.name == "torch" else f"{subject.name}-"


def _gradcheck_test(spec):
    params = [pytest.param(s, v, d.values[0], id=f"{_sid(s)}float64-{d.id}-{v}", marks=d.marks)
              for s in subjects_for(spec) for d in DEVICES for v in spec.variants]

    @pytest.mark.parametrize("subject, variant, device", params)
    @settings(max_examples=GRADCHECK_EXAMPLES)
    @given(data=st.data())
    def test(subject, variant, device, data):
        fspec = fitted(spec, subject)
        case = data.draw(smooth_cases(fspec, variant, short=True), label="case")
        case = admitted(fspec, subject, case, dtype="float64", variant=variant, strict=True)
        reduction = data.draw(st.sampled_from(fspec.reductions), label="reduction")
        names = differentiable(fspec, case)
        discarding_recorded(subject, "gradcheck", case, "float64", GradcheckError,
                             lambda: gradcheck_case(subject, case, names, reduction, device),
                             rerun=lambda s: gradcheck_case(s, case, names, reduction, device), device=device)

    test.__name__ = test.__qualname__ = f"test_gradcheck_{spec.name}"
    return test


def _gradient_test(spec):
    params = [pytest.param(s, dt, d.values[0], v, id=f"{_sid(s)}{dt}-{d.id}-{v}", marks=d.marks)
              for s in subjects_for(spec) for d in DEVICES for dt in DTYPE_NAMES for v in spec.variants]

    @pytest.mark.parametrize("subject, dtype, device, variant", params)
    @settings(max_examples=EXAMPLES)
    @given(data=st.data())
    def test(subject, dtype, device, variant, data):
        fspec = fitted(spec, subject)
        # half of the examples with coincident inputs where the loss has them (a = b, r = 0)
        case = data.draw(smooth_cases(fspec, variant, gradient_format(dtype), coincident=True), label="case")
        # strict: moving the case off a kink must not have needed a parameter the plug-in lacks
        case = admitted(fspec, subject, case, dtype=dtype, variant=variant, strict=True)
        reduction = data.draw(st.sampled_from(fspec.reductions), label="reduction")
        assume(spec.admits(case.rounded(dtype), gradient_format(dtype)))
        # a random cotangent: per element for 'none', a number for 'mean' / 'sum'
        shape = np.shape(fspec.call_reference(case.rounded(dtype), reduction="none"))
        upstream = data.draw(cotangents(shape, reduction), label="upstream gradient")
        discarding_recorded(subject, "gradient", case, dtype, GradientError,
                             lambda: check_gradient(fspec, subject, case, dtype, device, reduction, upstream),
                             rerun=lambda s: check_gradient(fspec, s, case, dtype, device, reduction, upstream),
                             device=device)

    test.__name__ = test.__qualname__ = f"test_gradient_{spec.name}"
    return test


for _spec in SPECS.values():
    if subjects_for(_spec):
        globals()[f"test_gradcheck_{_spec.name}"] = _gradcheck_test(_spec)
        globals()[f"test_gradient_{_spec.name}"] = _gradient_test(_spec)


# ---- finite gradients at the extremes, subgradients at kinks ----------------------------

from properties.gradients import (  # noqa: E402
    FINITE_GRADIENT_ROWS, SUBGRADIENT_ROWS, analytic, autograd, finite_gradient_failure, nonfinite_gradients,
    subgradient_problem,
    unrepresentable_gradient,
)


def _finite_params():
    for row in FINITE_GRADIENT_ROWS:
        yield pytest.param(row, None, "float64", "cpu", id=f"{row.loss}-refimpl.grad-{row.name}")
        for subject in subjects_for(SPECS[row.loss]):
            for d in DEVICES:
                for dtype in DTYPE_NAMES:
                    yield pytest.param(row, subject, dtype, d.values[0],
                                       id=f"{row.loss}-{subject.name}-{dtype}-{d.id}-{row.name}",
                                       marks=d.marks)


@pytest.mark.parametrize("row, subject, dtype, device", list(_finite_params()))
def test_gradient_finite_at_extremes(row, subject, dtype, device):
    case = row.case.rounded(dtype)
    if subject is None:
        problems = nonfinite_gradients(analytic(SPECS[row.loss], case), row.wrt)
        assert not problems, f"refimpl.grad.{row.loss} at {row.id}: {problems}"
        return
    if why := subject.unsupported(dtype=dtype) or not_applicable(SPECS[row.loss], subject, case):
        pytest.skip(why)
    case = fitted(SPECS[row.loss], subject).fit(case, strict=True)
    known = known_for(row.known_failures, subject, dtype)
    # no finite answer: nothing to ask (a subject the row records a known failure for must still show it)
    if (known is None or subject.allows_known_deviations) and (why := unrepresentable_gradient(SPECS[row.loss], row.case, row.wrt, dtype)):
        pytest.skip(why)
    grads = autograd(subject, case, row.wrt, dtype, device)
    problems = nonfinite_gradients(grads, row.wrt)
    if known is not None and subject.allows_known_deviations:
        if problems:  # allowed only as the recorded implementation shows it: the same non-finite values
            recorded = recorded_subject(SPECS[row.loss], known)
            theirs = nonfinite_gradients(autograd(recorded, case, row.wrt, dtype, device), row.wrt) if recorded else None
            assert problems == theirs, (
                f"{finite_gradient_failure(row, subject, case, grads, dtype, device)}\n\n"
                f"Not the recorded known deviation {known.deviation!r}: {known.subject} gives {theirs}")
            allowed(known.deviation)
    elif known is None:
        assert not problems, finite_gradient_failure(row, subject, case, grads, dtype, device)
    else:
        assert problems, (f"known deviation {known.deviation!r} no longer holds: {subject.qualname} [{dtype}] now has "
                          f"finite gradients at {row.id}. Update properties/known_deviations.toml.")


@pytest.mark.parametrize("row, subject", [pytest.param(r, s, id=f"{r.id}-{s.name}") for r in SUBGRADIENT_ROWS
                                            for s in subjects_for(SPECS[r.loss])])
def test_subgradient_at_kink(row, subject):
    if why := not_applicable(SPECS[row.loss], subject, row.case):
        pytest.skip(why)
    problem = subgradient_problem(row, SPECS[row.loss], subject)
    assert problem is None, problem


# ---- every differentiable argument is differentiated ---------------------------------------

from hypothesis import HealthCheck, Phase, find  # noqa: E402
from hypothesis.errors import NoSuchExample  # noqa: E402

from properties.gradients import DIFFERENTIABLE, REFUSED, without_refused  # noqa: E402
from properties.subjects import builtin_subjects  # noqa: E402


@pytest.mark.parametrize("loss, arg", [pytest.param(loss, arg, id=f"{loss}-{arg}")
                                       for loss, args in DIFFERENTIABLE.items() for arg in args])
def test_every_differentiable_argument_is_differentiated(loss, arg):
    """test_gradient_<loss> reaches every argument of DIFFERENTIABLE -- weights, pos_weight, targets --
    within the examples one of its variants draws (EXAMPLES, the profile's budget), and the torch
    built-in either differentiates it there or refuses it as a recorded deviation (REFUSED): an
    argument no draw differentiates, or one dropped without a record, fails here."""
    spec = SPECS[loss]
    fmt = gradient_format("float64")
    found = None
    for variant in spec.variants:
        try:
            found = find(smooth_cases(spec, variant, fmt, coincident=True), lambda c: arg in differentiable(spec, c),
                         settings=settings(max_examples=EXAMPLES, database=None, derandomize=True, phases=[Phase.generate],
                                           suppress_health_check=list(HealthCheck)))
            break
        except NoSuchExample:
            continue
    assert found is not None, f"{loss}: no draw of {EXAMPLES} per variant {spec.variants} differentiates {arg!r}"
    for subject in builtin_subjects(spec):
        kept, refusals = without_refused(spec, subject, found.with_kwargs(reduction="sum"), [arg])
        assert kept == [arg] or ((loss, arg) in REFUSED and refusals), (
            f"{subject.qualname} does not differentiate {arg!r} and no deviation records it: {refusals}")


def test_refusals_are_recorded_deviations():
    """Each argument torch may refuse (REFUSED) names a recorded known deviation whose check
    function shows the refusal on the installed torch (tests/test_known_deviations.py runs it)."""
    from properties import deviations

    records = deviations.load()
    for (loss, arg), refusal in REFUSED.items():
        assert arg in DIFFERENTIABLE[loss], (loss, arg)
        record = records.get(refusal.deviation)
        assert record is not None and record["loss"] == loss and record.get("check") in deviations.CHECKS, refusal
