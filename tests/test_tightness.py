"""The tolerance model is tight: implementations that are slightly wrong fail it.

For every loss with a torch built-in and every dtype, two mutants of the torch
function must be rejected by the very check the agreement tests use:

* ``off_by_8_ulps``: the correct value times ``1 + 8 eps(dtype)`` -- an error of
  16 units in the last place, smaller than most real bugs (a wrong constant, a
  dropped term), must not pass;
* ``float32_internals`` (float64 only): the loss computed in float32 and cast back,
  the classic ``.float()`` slipped into a float64 path.

The companion figure is the largest ``error / bound`` the agreement tests see
for the real torch functions (printed at the end of every run, in the README):
0.1 to 0.7, so the bound sits within a small factor of the errors that occur.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from properties.agreement import AgreementError, check_agreement
from properties.formats import DTYPE_NAMES, FORMATS
from properties.specs import SPECS
from properties.subjects import Subject, builtin_subjects

MUTANT_SETTINGS = settings(max_examples=300, phases=[Phase.generate], database=None, derandomize=True,
                           deadline=None, suppress_health_check=list(HealthCheck))


def off_by_ulps(fn, dtype):
    factor = 1 + 8 * FORMATS[dtype].eps

    def mutant(*args, **kwargs):
        out = fn(*args, **kwargs)
        return (out.double() * factor).to(out.dtype)

    return mutant


def float32_internals(fn, dtype):
    def mutant(*args, **kwargs):
        conv = lambda v: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
        out = fn(*(conv(a) for a in args), **{k: conv(v) for k, v in kwargs.items()})
        return out.to(args[0].dtype)

    return mutant


def _cases():
    for spec in SPECS.values():
        for subject in builtin_subjects(spec):
            for dtype in DTYPE_NAMES:
                yield pytest.param(spec, subject, "off_by_8_ulps", dtype, id=f"{spec.name}-off_by_8_ulps-{dtype}")
            yield pytest.param(spec, subject, "float32_internals", "float64", id=f"{spec.name}-float32_internals")


@pytest.mark.parametrize("spec, subject, mutant, dtype", list(_cases()))
def test_bound_rejects_slightly_wrong_implementation(spec, subject, mutant, dtype):
    make = {"off_by_8_ulps": off_by_ulps, "float32_internals": float32_internals}[mutant]
    wrong = Subject(spec.name, mutant, f"{mutant}({subject.qualname})", make(subject.fn, dtype))

    @MUTANT_SETTINGS
    @given(data=st.data())
    def run(data):
        variant = data.draw(st.sampled_from(spec.variants))
        reduction = data.draw(st.sampled_from(spec.reductions))
        case = data.draw(spec.cases(variant, FORMATS[dtype]))
        if subject.missing_params(case.kwargs):
            return
        check_agreement(spec, wrong, case, dtype, "cpu", reduction, variant, record=False)

    with pytest.raises(AgreementError):
        run()
