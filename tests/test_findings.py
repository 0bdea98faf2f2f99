"""The grouping of failures into findings (``properties.findings``), on the diagnosis lines the
checks write (``properties.diagnosis.headline``): each kind of cause is told apart, a wrong value's
wrong gradients join its finding, a finding is confined to the parameter values it failed on."""

from __future__ import annotations

import pytest

from properties.findings import WRONG_VALUES, Failure, cause_of, detail, group, ratio_of

Q = "mylosses.loss"
LINES = [
    (f"{Q} raises on valid input: TypeError: unexpected keyword [mse float32 cpu plain]", "raises on valid input (TypeError)"),
    (f"{Q} hangs: {Q} did not return within 20 s [mse float32 cpu plain]", "hangs"),
    (f"{Q} mutates its inputs: input changed in place [mse float32 cpu plain]", "mutates its inputs"),
    (f"{Q} returned a float, expected a torch.Tensor [mse float32 cpu plain]", "returns a float, not a tensor"),
    (f"{Q} returned dtype torch.float32, expected torch.float64 [mse float64 cpu plain]",
     "does not keep the input dtype (returns torch.float32)"),
    (f"{Q} returned a tensor on cpu, expected cuda [mse float32 cuda plain]", "output on the wrong device"),
    (f"{Q} returned shape (4, 1), expected (4,) [mse float32 cpu plain]", "wrong output shape"),
    (f"{Q} accepts invalid input: mse/reduction_avg (returned without raising) [mse float32 cpu reduction_avg]",
     "accepts invalid input"),
    (f"{Q} returns without raising where it must raise: edge case bce/input_outside_0_1 [bce float32 cpu x]",
     "accepts invalid input"),
    (f"{Q} gradient outside the bound w.r.t. input: 1 of 4 element(s), error/bound = 12 [mse float32 cpu 'none']",
     "wrong gradients"),
    (f"{Q} gradgradcheck: second derivative d/dinput of d/dinput disagrees [mse float64 cpu 'sum']", "wrong gradients"),
    (f"{Q} non-finite gradient w.r.t. input at mse/x: 1 of 1 element(s) [mse float32 cpu x]", "wrong gradients"),
    (f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 3 [mse float64 cpu 'none' plain]",
     WRONG_VALUES),
    (f"{Q} returned NaN where the reference is finite (1 of 1 element(s)) [mse float32 cpu 'none']", WRONG_VALUES),
    (f"{Q} edge case mse/empty_batch-mean: expected NaN, returned 0.0 [mse float32 cpu empty_batch-mean]", WRONG_VALUES),
    (f"{Q} violates invariant mse/symmetric: loss(a, b) == loss(b, a) [mse float32 cpu symmetric]", WRONG_VALUES),
]


@pytest.mark.parametrize("line, cause", LINES, ids=[c for _, c in LINES])
def test_each_diagnosis_has_its_cause(line, cause):
    assert cause_of(line + "\ncase: ...\nReproduce:\n...") == cause


def _failure(family, dtype, message, nodeid=None, worst=""):
    return Failure(nodeid or f"t::{family}[{dtype}]", family, {"dtype": dtype, "device": "cpu"}, message, worst)


def test_wrong_gradients_join_wrong_values_of_the_same_plugin_and_breaches_stay_apart():
    value = f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 8 [mse float64 cpu]"
    grad = f"{Q} gradient outside the bound w.r.t. input: 1 of 1 element(s), error/bound = 3 [mse float64 cpu]"
    shape = f"{Q} returned shape (4, 1), expected (4,) [mse float32 cpu]"
    failures = [_failure("agreement", "float64", value), _failure("gradients", "float64", grad),
                _failure("edge cases", "float32", shape)]
    findings = group(failures, plugin_of=lambda f: "mse=mylosses.loss")
    assert sorted(f.cause for f in findings) == ["wrong output shape", "wrong values (and gradients)"]
    alone = group([_failure("gradients", "float64", grad)], plugin_of=lambda f: "p")
    assert [f.cause for f in alone] == ["wrong gradients"]  # a gradient bug alone is its own cause


def test_a_finding_is_confined_to_the_values_it_failed_on():
    value = f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 8 [mse float64 cpu]"
    (finding,) = group([_failure("agreement", "float64", value)], plugin_of=lambda f: "p")
    assert finding.confined({"dtype": {"float64", "float32"}, "device": {"cpu"}}) == "dtype=float64"
    assert finding.confined({"dtype": {"float64"}, "device": {"cpu"}}) == ""  # everywhere tested


def test_detail_shows_the_worst_example_beside_the_minimal_one():
    minimal = f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 1.5 [mse float64 cpu]\ncase: A"
    worst = f"{Q} value outside the bound: 3 of 3 output element(s), error/bound = 900 [mse float64 cpu]\ncase: B"
    (finding,) = group([_failure("agreement", "float64", minimal, worst=worst)], plugin_of=lambda f: "p")
    text = "\n".join(detail(finding))
    assert "minimal example (agreement)" in text and "case: A" in text
    assert "worst example found (agreement, largest error/bound = 900)" in text and "case: B" in text
    assert ratio_of(worst) == 900.0 and ratio_of("no ratio") == 0.0


def test_a_shrunk_failure_is_the_detail_and_an_unshrunk_one_is_labelled_as_such():
    """A gate run shrinks only a plug-in's first failure per check family (``--shrink-all``: every
    one): the detail shows a shrunk failure of the finding where there is one, whatever its ratio,
    and says so where there is none."""
    small = f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 2 [mse float64 cpu]\ncase: A"
    large = f"{Q} value outside the bound: 1 of 1 output element(s), error/bound = 50 [mse float32 cpu]\ncase: B"
    shrunk = _failure("agreement", "float64", small)
    later = Failure("t::agreement[float32]", "agreement", {"dtype": "float32", "device": "cpu"}, large, shrunk=False)
    (finding,) = group([later, shrunk], plugin_of=lambda f: "p")
    text = "\n".join(detail(finding))
    assert text.startswith("minimal example (agreement): t::agreement[float64]") and "case: A" in text, text
    (alone,) = group([later], plugin_of=lambda f: "p")
    assert "\n".join(detail(alone)).startswith("first failing example (not shrunk:"), detail(alone)
