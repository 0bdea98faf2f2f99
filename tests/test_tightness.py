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
from hypothesis import HealthCheck, Phase, assume, given, settings, strategies as st

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


# ---- long sums (issue 19) ----------------------------------------------------------------------------

def _pairwise_sum(t):
    """Pairwise summation in the dtype: halves added until one element is left (depth ceil(log2 n))."""
    t = t.flatten()
    while t.numel() > 1:
        if t.numel() % 2:
            t = torch.cat([t, t.new_zeros(1)])
        t = t[0::2] + t[1::2]
    return t.reshape(())


def _term_by_term_sum(t):
    """Recursive summation in the dtype, one term at a time (the accumulator is the input dtype)."""
    acc = t.new_zeros(())
    for v in t.flatten():
        acc = acc + v
    return acc


def _mse_sum_with(summer):
    def mse(input, target, reduction="sum"):
        return summer((input - target) ** 2)

    return mse


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_long_sum_bound_admits_pairwise_and_rejects_term_by_term(dtype):
    """The reduction part of the bound, ceil(log2 n) u sum|t| (Higham eq. 4.6: pairwise summation), on the
    long examples (>= 1000 terms) of MSE's 'sum' in ``dtype``: summing the terms pairwise *in the dtype*
    -- what a correct implementation without a wider accumulator achieves -- passes every one (measured
    error/bound at most 0.09 float16, 0.19 bfloat16, 0.08 float32; torch, with a float32 accumulator for
    half types: 0.09, 0.10, 0.26), while summing them one at a time in the dtype (recursive summation, error
    up to (n - 1) u sum|t|: half precision stops growing once the terms fall below half a unit in the
    last place of the sum) fails some (5, 11 and 16 of 40: error/bound up to 2.7, 14 and 40)."""
    spec = SPECS["mse"]
    fmt = FORMATS[dtype]
    outcomes = {"pairwise": [], "term_by_term": []}
    subjects = {name: Subject("mse", name, f"mse_{name}", _mse_sum_with(fn))
                for name, fn in (("pairwise", _pairwise_sum), ("term_by_term", _term_by_term_sum))}

    @settings(max_examples=40, phases=[Phase.generate], database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = data.draw(spec.cases("plain", fmt, "sum"))
        assume(spec.summed(case) >= 1000)
        for name, subject in subjects.items():
            try:
                check_agreement(spec, subject, case, dtype, "cpu", "sum", "plain", record=False)
                outcomes[name].append(True)
            except AgreementError:
                outcomes[name].append(False)

    run()
    assert len(outcomes["pairwise"]) >= 20, f"too few long examples drawn: {len(outcomes['pairwise'])}"
    assert all(outcomes["pairwise"]), f"pairwise summation in {dtype} rejected: {outcomes['pairwise'].count(False)}"
    assert not all(outcomes["term_by_term"]), f"term-by-term summation in {dtype} passed every long example"
