"""A plug-in that breaks the contract at run time gets a failing check whose first line is a
one-line diagnosis naming the breach -- never a crash of the harness, never a bare numeric
mismatch.  One deliberately broken MSE per kind of breach (issue 5's list), each run through
the agreement check exactly as ``pytest --impl mse=...`` runs it.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

from properties.agreement import AgreementError, check_agreement
from properties.cases import Case
from properties.specs import SPECS
from properties.subjects import Subject

MSE = SPECS["mse"]
CASE = Case({"input": np.array([[0.5, -1.0], [2.0, 0.25]]), "target": np.array([[0.0, 1.0], [1.5, -0.5]])}, {})


def _mse(input, target, reduction="mean"):
    terms = (input - target) ** 2
    return {"none": terms, "mean": terms.mean(), "sum": terms.sum()}[reduction]


def raises(input, target, reduction="mean"):
    raise RuntimeError("size mismatch, m1: [2 x 2], m2: [3 x 1]")


def wrong_shape(input, target, reduction="mean"):
    return _mse(input, target, reduction).reshape(-1)[:1]


def wrong_dtype(input, target, reduction="mean"):
    return _mse(input, target, reduction).double()


def python_float(input, target, reduction="mean"):
    return _mse(input, target, reduction).sum().item()


def wrong_device(input, target, reduction="mean"):
    return torch.empty(_mse(input, target, reduction).shape, dtype=input.dtype, device="meta")


def nan_where_finite(input, target, reduction="mean"):
    return _mse(input, target, reduction) * float("nan")


def mutates(input, target, reduction="mean"):
    input.sub_(target)
    return _mse(input + target, target, reduction)


def hangs(input, target, reduction="mean"):
    time.sleep(30)
    return _mse(input, target, reduction)


BREACHES = {  # plug-in -> what the first line of the failure must say
    raises: r"raises on valid input: RuntimeError: size mismatch",
    wrong_shape: r"returned shape \(1,\), expected \(2, 2\)",
    wrong_dtype: r"returned dtype torch\.float64, expected torch\.float32",
    python_float: r"returned a float, expected a torch\.Tensor",
    wrong_device: r"returned a tensor on meta, expected cpu",
    nan_where_finite: r"returned NaN where the reference is finite \(4 of 4 element\(s\)",
    mutates: r"mutates its inputs: .*input",
    hangs: r"hangs: .*did not return within 0\.2 s",
}


@pytest.mark.parametrize("fn", list(BREACHES), ids=lambda f: f.__name__)
def test_contract_breach_gets_a_one_line_diagnosis(fn):
    subject = Subject("mse", "impl", f"{__name__}.{fn.__name__}", fn, origin="plugin", timeout=0.2)
    with pytest.raises(AgreementError) as info:
        check_agreement(MSE, subject, CASE, "float32", "cpu", "none", record=False)
    first, *rest = str(info.value).splitlines()
    assert re.search(BREACHES[fn], first), first
    assert first.startswith(subject.qualname) and "[mse float32 cpu reduction='none']" in first, first
    assert any(line.startswith("Reproduce:") for line in rest), "the details must keep the reproduction"


def test_a_conforming_plugin_passes_the_same_check():
    """The breaches above are caught by the contract, not by anything the case itself provokes."""
    subject = Subject("mse", "impl", f"{__name__}._mse", _mse, origin="plugin", timeout=5.0)
    for reduction in MSE.reductions:
        assert check_agreement(MSE, subject, CASE, "float32", "cpu", reduction, record=False) <= 1.0


# ---- the other check families: the same breaches, the same first line -------------------------------
#
# Every family diagnoses a breach first, in the same words, before anything that depends on it (an edge
# row's expected values, an invariant's claim, the reference gradient's shape, a bad input's refusal).

from properties.bad_inputs import BAD_INPUTS, BadInputFailure, check_bad_input  # noqa: E402
from properties.edge_cases import EDGE_CASES, EdgeCaseFailure, run_edge_case  # noqa: E402
from properties.gradients import GradientError, check_gradient  # noqa: E402
from properties.invariants import INVARIANTS, InvariantViolation, run_invariant  # noqa: E402

EDGE_ROW = next(r for r in EDGE_CASES["mse"] if r.name == "equal_inputs")  # 3 elements, expected exactly 0
INVARIANT = next(i for i in INVARIANTS["mse"] if i.name == "reductions")  # 'none' is evaluated first
BAD = next(r for r in BAD_INPUTS["mse"] if r.name == "reduction_avg")  # its valid call: 'mean' of a (2, 3) input


def _no_draw(*args, **kwargs):
    raise AssertionError("the invariant drew a value: pass it a draw")


#: family -> (run the family's check on a subject, its failure type, the first line's [...] suffix)
FAMILIES = {
    "edge case": (lambda s: run_edge_case(EDGE_ROW, MSE, s, "float32", "cpu", EDGE_ROW.inputs), EdgeCaseFailure,
                  "[mse float32 cpu equal_inputs]"),
    "invariant": (lambda s: run_invariant(INVARIANT, MSE, s, "float32", "cpu", CASE.rounded("float32"), _no_draw),
                  InvariantViolation, "[mse float32 cpu reductions]"),
    "gradient": (lambda s: check_gradient(MSE, s, CASE, "float32", "cpu", "none"), GradientError,
                 "[mse float32 cpu reduction='none']"),
    "bad input": (lambda s: check_bad_input(BAD, s, "float32", "cpu"), BadInputFailure,
                  "[mse float32 cpu reduction_avg]"),
}

#: where a family's first line differs from the agreement check's (BREACHES); None: not this check's finding
IN_FAMILY = {
    ("edge case", wrong_shape): r"returned shape \(1,\), expected \(3,\)",  # before the row's expected zeros
    ("edge case", nan_where_finite): r"edge case mse/equal_inputs: expected 0\.0 at element \(0,\), returned NaN; "
                                     r"3 of 3 elements not as expected",
    ("invariant", nan_where_finite): r"returned NaN where the reference is finite \(loss\(none\): 4 of 4 element\(s\)",
    ("gradient", nan_where_finite): r"non-finite gradient w\.r\.t\. input: 4 of 4 element\(s\)",
    # autograd refuses the in-place write into a leaf that requires grad before the guard can see it
    ("gradient", mutates): r"raises on valid input: RuntimeError: a leaf Variable that requires grad",
    ("bad input", wrong_shape): r"returned shape \(1,\), expected \(\)",
    ("bad input", nan_where_finite): None,  # the valid call's value is the agreement check's to compare
}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # assume() outside @given
@pytest.mark.parametrize("fn", list(BREACHES), ids=lambda f: f.__name__)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_check_family_diagnoses_a_breach_on_its_first_line(family, fn):
    run, failure, where = FAMILIES[family]
    expected = IN_FAMILY.get((family, fn), BREACHES[fn])
    subject = Subject("mse", "impl", f"{__name__}.{fn.__name__}", fn, origin="plugin", timeout=0.2)
    if expected is None:
        run(subject)
        return
    with pytest.raises(failure) as info:
        run(subject)
    first, *rest = str(info.value).splitlines()
    assert re.search(expected, first), first
    assert first.startswith(subject.qualname + " ") and first.endswith(" " + where), first
    assert any(line.startswith("Reproduce:") for line in rest), "the details must keep the reproduction"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_conforming_plugin_passes_every_family(family):
    run, _, _ = FAMILIES[family]
    run(Subject("mse", "impl", f"{__name__}._mse", _mse, origin="plugin", timeout=5.0))


def test_an_edge_case_value_failure_shows_full_precision_and_the_bound():
    """A value one float64 ulp off an exact expectation: the message shows both values exactly (repr), the
    error in abs / rel / ulp and the bound -- never two equal-looking 6-digit numbers."""
    def off(input, target, reduction="mean"):
        return torch.nextafter(_mse(input, target, reduction), torch.tensor(float("inf"), dtype=torch.float64))

    row = next(r for r in EDGE_CASES["mse"] if r.name == "zero_dim")  # (3 - 1)^2 = 4 exactly
    subject = Subject("mse", "impl", f"{__name__}.off", off, origin="plugin", timeout=5.0)
    with pytest.raises(EdgeCaseFailure) as info:
        run_edge_case(row, MSE, subject, "float64", "cpu", row.inputs)
    text = str(info.value)
    got = float(np.nextafter(4.0, np.inf))
    assert text.splitlines()[0] == (f"{subject.qualname} edge case mse/zero_dim: expected 4.0, returned {got!r} "
                                    "(error/bound = inf) [mse float64 cpu zero_dim]")
    assert f"got {got!r}, expected value 4.0" in text and "1 ulp(float64)" in text
    assert "bound 0 (an exact value)" in text


def test_nan_expected_and_a_number_returned_is_said_plainly():
    """Not "got 0.0, reference nan ... error/bound = 0": the message says a number came back where NaN is expected."""
    def zero_for_empty(input, target, reduction="mean"):
        return torch.zeros((), dtype=input.dtype) if input.numel() == 0 else _mse(input, target, reduction)

    row = next(r for r in EDGE_CASES["mse"] if r.name == "empty_batch-mean")
    subject = Subject("mse", "impl", f"{__name__}.zero_for_empty", zero_for_empty, origin="plugin", timeout=5.0)
    empty = Case({"input": np.zeros((0, 2)), "target": np.zeros((0, 2))}, {"reduction": "mean"})
    with pytest.raises(EdgeCaseFailure) as info:
        run_edge_case(row, MSE, subject, "float32", "cpu", empty)
    text = str(info.value)
    assert "edge case mse/empty_batch-mean: expected NaN, returned 0.0 [" in text.splitlines()[0]
    assert "got 0.0 where the expected value is NaN" in text and "error/bound" not in text
    assert "because 'mean' of an empty batch is 0/0" in text
