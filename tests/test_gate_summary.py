"""What a gate run (``pytest --impl``) reports beyond pass / fail, checked on small gate runs
(subprocesses, a few dozen tests each via ``-k``):

(a) the coverage summary at the end of the run counts, for a partial implementation
    (``tests.catalogue.regression:mse_unweighted`` has no ``weight``), the examples each check
    family ran (> 0 in every one: a lacking parameter is held at its default, not skipped) and
    the verdict.  :func:`summary_problems` is the check; it is also shown to reject the same output
    with the summary, a family's line or its examples cut out, so this test fails if they go missing;
(b) the "allowed known deviation" path (``tests/gate/matrix.py`` ``check_with_known``, and the
    finite-gradient test): a plug-in that shows a recorded deviation as torch does gets an xfail
    "allowed: recorded known deviation ...", and a plug-in that fails such a row in another way
    is not excused.

Like every test without a plug-in subject, this module is deselected in a gate run.
"""

from __future__ import annotations

import re

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

# a checkout's tests (the package `tests`): the gate runs below import tests.catalogue from the repository
# root; installed as lossproof_tests (`lossproof gate`) they skip without importing any other `tests`
if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
from tests.catalogue.runner import GateResult, run_many  # noqa: E402

PLUGINS = "tests.catalogue.known_deviation_plugins"
UNWEIGHTED = "mse=tests.catalogue.regression:mse_unweighted"
UNWEIGHTED_KEY = "mse=tests.catalogue.regression.mse_unweighted"

# the rows (b) uses: edge:kl_div/zero_target-neg_inf_input and grad:bce/probabilities_0_and_1, CPU only
KL_ROW = "test_edge_kl_div and zero_target-neg_inf_input and cpu"
BCE_ROW = "test_gradient_finite_at_extremes and probabilities_0_and_1 and cpu"
KL_DEVIATION, BCE_DEVIATION = "kl_div_zero_target_neg_inf_input", "bce_backward_float16_at_0_1"
DIFFERENT_WAY = [f"kl_div={PLUGINS}:kl_div_inf_for_nan", f"kl_div={PLUGINS}:kl_div_clamps_input_inplace"]

RUNS = {
    # a partial implementation: float64 on the CPU, the bad inputs and the plug-in check (~40 tests)
    "partial": dict(impl_options=[UNWEIGHTED],
                    extra_args=["-k", "plugin_loads or bad_input or gradcheck or (float64 and cpu)"]),
    # torch's own kl_div and binary_cross_entropy as plug-ins, on the rows recording their deviations
    "allowed": dict(impl_options=[f"kl_div={PLUGINS}:kl_div_torch", f"bce={PLUGINS}:binary_cross_entropy_torch"],
                    extra_args=["-k", f"({KL_ROW}) or ({BCE_ROW})"]),
    # plug-ins failing the same rows differently (impl, impl2 for kl_div; the catalogue's unclamped BCE)
    "different": dict(impl_options=[*DIFFERENT_WAY, "bce=tests.catalogue.classification:bce_unclamped_log"],
                      extra_args=["-k", f"({KL_ROW}) or ({BCE_ROW})"]),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, GateResult]:
    return run_many([(k, dict(v, timeout=120.0)) for k, v in RUNS.items()], workers=2)


def _context(result: GateResult) -> str:
    return f"\nreproduce: {result.command_line}\n{result.describe()}\n--- output (tail) ---\n{result.tail(50)}"


def _outcomes(result: GateResult, outcome: str) -> dict[str, str]:
    """``{test id: reason}`` of the ``-ra`` summary lines ``XFAIL id - reason`` (or FAILED ...)."""
    return dict(re.findall(rf"^{outcome} (\S+?)(?: - (.*))?$", result.output, re.M))


# ---- (a) the coverage summary of a partial implementation ---------------------------------------


def summary_problems(output: str) -> list[str]:
    """What is wrong with the coverage summary of the ``partial`` run (empty: nothing)."""
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if "lossproof gate coverage" in ln), None)
    if start is None:
        return ["no coverage summary ('lossproof gate coverage' section) in the output"]
    section = []
    for ln in lines[start + 1:]:
        if ln.startswith(("=", "_")):
            break
        section.append(ln)
    if UNWEIGHTED_KEY not in [ln.strip() for ln in section if ln and not ln.startswith(" ")]:
        return [f"the summary does not list the plug-in {UNWEIGHTED_KEY}: {section}"]
    problems = []
    for kind in ("agreement", "bad inputs", "edge cases", "gradients", "invariants"):
        if not any(re.match(rf"\s+{kind}\s+[1-9]\d* examples \(\d+ calls\) in [1-9]\d* tests; .*\b[1-9]\d* passed", ln)
                   for ln in section):
            problems.append(f"no '{kind}  N examples (M calls) in K tests; ... passed' line with N > 0")
    if not any(ln.startswith("lossproof verdict: conforms") for ln in section):
        problems.append("no 'lossproof verdict: conforms' line")
    return [f"{p} in the coverage summary:\n" + "\n".join(section) for p in problems]


def test_coverage_summary_counts_examples_of_a_partial_plugin(runs):
    """mse_unweighted has no ``weight``: the weighted variants are drawn at weight=None, never
    skipped, so every family checks examples and the verdict is "conforms"."""
    result = runs["partial"]
    assert result.returncode == 0, f"the correct mse_unweighted fails the gate{_context(result)}"
    problems = summary_problems(result.output)
    assert not problems, "\n".join(problems) + _context(result)


def test_summary_check_fails_without_the_summary(runs):
    """The check above is not vacuous: the same output without the summary, or without its skip
    line, is rejected."""
    output = runs["partial"].output
    start = output.index("lossproof gate coverage")
    start = output.rindex("\n", 0, start) + 1
    end = output.index("\n=", start + 1) + 1
    assert summary_problems(output[:start] + output[end:]) == [
        "no coverage summary ('lossproof gate coverage' section) in the output"]
    no_examples = re.sub(r"^(\s+invariants\s+)\d+ examples", r"\g<1>0 examples", output, count=1, flags=re.M)
    assert any("'invariants  N examples" in p for p in summary_problems(no_examples))
    no_edge = re.sub(r"^\s+edge cases .*\n", "", output, count=1, flags=re.M)
    assert any("'edge cases  N examples" in p for p in summary_problems(no_edge))


# ---- (b) allowed known deviations -----------------------------------------------------------------


def test_reproducing_a_recorded_deviation_is_allowed(runs):
    """torch's kl_div as a plug-in (NaN at a zero target with input -inf): the row recording that
    deviation is an xfail naming the record in every CPU dtype, and the run passes.  (torch's BCE
    rides along: its float16 finite-gradient row at 0/1 is skipped as unanswerable in float16.)"""
    result = runs["allowed"]
    assert result.returncode == 0, f"a plug-in showing a recorded deviation fails the gate{_context(result)}"
    xfails = _outcomes(result, "XFAIL")
    kl = {k: v for k, v in xfails.items() if "test_edge_kl_div[" in k}
    assert len(kl) == 4, f"expected the 4 CPU dtypes of the kl_div row as xfails, got {sorted(kl)}{_context(result)}"
    assert all(v == f"allowed: recorded known deviation {KL_DEVIATION!r}" for v in kl.values()), kl
    assert "allowed deviation" in result.output.split("lossproof gate coverage", 1)[1], (
        "the coverage summary does not count the allowed deviations" + _context(result))


def test_known_deviation_excuses_only_its_dtypes(runs):
    """A row with a recorded deviation is not excused wholesale: the BCE record
    (``bce_backward_float16_at_0_1``) is for float16 only, and an unclamped BCE (NaN/inf gradients
    at 0/1) fails the same row in float64, float32 and bfloat16."""
    result = runs["different"]
    failed = _outcomes(result, "FAILED")
    want = {f"tests/gate/test_gradients.py::test_gradient_finite_at_extremes[bce-impl-{d}-cpu-probabilities_0_and_1]"
            for d in ("float64", "float32", "bfloat16")}
    assert want <= set(failed), f"not failed: {sorted(want - set(failed))}{_context(result)}"
    assert result.returncode == 1


@pytest.mark.parametrize("plugin, test_id", [
    pytest.param(f"kl_div={PLUGINS}:kl_div_inf_for_nan", "test_edge_kl_div[impl-{d}-cpu-zero_target-neg_inf_input]",
                 id="kl_div-inf-instead-of-nan"),
    pytest.param(f"kl_div={PLUGINS}:kl_div_clamps_input_inplace",
                 "test_edge_kl_div[impl2-{d}-cpu-zero_target-neg_inf_input]", id="kl_div-mutates-its-input"),
])
def test_failing_a_known_row_differently_is_not_excused(runs, plugin, test_id):
    result = runs["different"]
    dtypes = ("float64", "float32", "float16", "bfloat16") if "{d}" in test_id else ("-",)
    failed, xfails = _outcomes(result, "FAILED"), _outcomes(result, "XFAIL")
    for d in dtypes:
        tid = test_id.format(d=d)
        node = next((k for k in [*failed, *xfails] if k.endswith("::" + tid)), None)
        assert node in failed, (f"{plugin}: {tid} is {'excused: ' + xfails[node] if node in xfails else 'not failed'}"
                                f"{_context(result)}")
