"""Each float64 reference agrees with a high-precision (mpmath, 60 digits) evaluation
of the textbook formula (``refimpl.exact``) within the tolerance model's float64 bound.

The bound is ``u64 * budget`` (the same error budget demanded of a float64
implementation, see ``properties/tolerance.py``); the figure in ULPS records how
close to the exact value the references actually are, for the README.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, strategies as st

from properties.formats import FLOAT64
from properties.specs import SPECS
from properties.agreement import bound_for

exact = pytest.importorskip("refimpl.exact", reason="mpmath is not installed (pip install lossproof[test])")

#: loss -> largest |reference - exact| in ulps of the exact value, over well-conditioned results
ULPS: dict[str, float] = defaultdict(float)
#: loss -> largest |reference - exact| / bound
RATIO: dict[str, float] = defaultdict(float)


def _params():
    for spec in SPECS.values():
        for reduction in spec.reductions:
            for variant in spec.variants:
                yield pytest.param(spec, reduction, variant, id=f"{spec.name}-{reduction}-{variant}")


@pytest.mark.mpmath
@pytest.mark.parametrize("spec, reduction, variant", list(_params()))
@given(data=st.data())
def test_reference_matches_mpmath(spec, reduction, variant, data):
    case = data.draw(spec.cases(variant, FLOAT64), label="case").with_kwargs(reduction=reduction)
    ref = spec.call_reference(case)
    want = getattr(exact, spec.name)(*case.args.values(), **{**spec.reference_kwargs, **case.kwargs})
    assert want.shape == ref.shape, f"shape {ref.shape} != exact {want.shape}"
    with np.errstate(invalid="ignore"):
        want_f = np.vectorize(float, otypes=[np.float64])(want) if want.size else np.zeros(want.shape)
    assert np.array_equal(np.isnan(ref), np.isnan(want_f)), f"NaN pattern differs: {ref} vs {want_f}"
    # the bound's u is u64 (implementation) + u64 (reference); here the exact side has no error
    bnd = bound_for(spec, FLOAT64, case, reduction, ref) / 2
    with np.errstate(invalid="ignore"):
        err = np.where(np.isnan(ref) | (ref == want_f), 0.0, np.abs(ref - want_f))
        # |ref - exact| in mpmath, so that the error is not rounded away
        ulps = err / FLOAT64.ulp(want_f)
    # two figures: error/bound, and ulps where the result is well conditioned
    # (budget <= 16 |exact|: no inherent cancellation to scale by)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(err == 0, 0.0, err / bnd)
        well = np.broadcast_to(bnd, err.shape) <= 16 * FLOAT64.u * np.abs(want_f)
    if ulps.size:
        RATIO[spec.name] = max(RATIO[spec.name], float(np.max(ratio)))
        ULPS[spec.name] = max(ULPS[spec.name], float(np.max(np.where(well, ulps, 0.0))))
    worst = np.unravel_index(int(np.argmax(err - bnd)), err.shape) if err.size else ()
    assert np.all(err <= bnd), (
        f"refimpl.{spec.name} is {err[worst]:.3e} ({ulps[worst]:.3g} ulp) from the exact "
        f"{want_f[worst]!r} at {worst}; bound {np.broadcast_to(bnd, err.shape)[worst]:.3e}\ncase: {case!r}"
    )


@pytest.mark.mpmath
@given(z=st.one_of(st.floats(-745.0, -700.0), st.floats(-50.0, 50.0)))
def test_sigmoid_matches_mpmath_into_the_subnormal_range(z):
    """The references' sigmoid (focal, and the gradients of BCE-with-logits and focal) is within
    2 ulp of the exact value for every z, the subnormal range included: ``scipy.special.expit``
    returns 0 below z = -709 where the sigmoid is still a subnormal (6.8e-315 at z = -723.4).
    Below 2**-1022 a float64 holds fewer bits, so there the bound is one subnormal spacing."""
    import mpmath

    from refimpl.bce_with_logits import sigmoid

    with mpmath.workprec(200):
        want = float(1 / (1 + mpmath.exp(-mpmath.mpf(z))))
    got = float(sigmoid(np.array([z]))[0])
    assert abs(got - want) <= max(2 * float(FLOAT64.ulp(want)), 5e-324), (z, got, want)
