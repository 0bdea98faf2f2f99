"""How the gate reports what it finds (``properties.findings``, ``properties.pytest_plugin``), on
small gate runs (subprocesses, as a user runs them):

- the worst example: a planted error that grows with |x| is reported with the worst example the
  search found (steered by ``hypothesis.target`` on error/bound), far beyond the bound, beside the
  minimal one Hypothesis shrinks to (just beyond it);
- one finding per cause: each buggy catalogue entry of a sample covering every kind of cause gets
  exactly one ``FINDING`` line, however many tests it fails;
- a short report: a cross-entropy computed in float32 inside, through ``lossproof gate`` without
  ``--tb``, is reported in at most 60 lines (besides pytest's progress characters).

Like every test without a plug-in subject, this module is deselected in a gate run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
from tests.catalogue import quick_profile  # noqa: E402
from tests.catalogue.runner import REPO, GateResult, run_many  # noqa: E402

FINDINGS = "tests.catalogue.findings"
PROGRESS = re.compile(r"^[.sFxXE]+\s*(\[\s*\d+%\])?$")
QUICK = list(quick_profile.ARGS)

#: one buggy entry per kind of cause: (option, the cause its FINDING line must name)
ONE_CAUSE_EACH = [
    ("mse=tests.catalogue.regression:mse_mean_over_batch", "wrong values"),
    ("mse=tests.catalogue.regression:mse_returns_python_float", "returns a float, not a tensor"),
    ("cosine_embedding=tests.catalogue.embedding:cosine_returns_float32", "does not keep the input dtype"),
    ("huber=tests.catalogue.regression:huber_detached_quadratic", "wrong gradients"),
    ("huber=tests.catalogue.regression:huber_unknown_reduction_sums", "accepts invalid input"),
]

CUDA_ABSENT = not __import__("torch").cuda.is_available()

RUNS = {
    "worst": dict(impl_options=[f"mse={FINDINGS}:mse_error_grows_with_x"],
                  # seeded: the worst example is among those drawn before each test's first failure, which the
                  # seed decides (seeds 0-3: worst error/bound 4.9, 114, 901, 9): seed 2 draws one far beyond
                  extra_args=["-k", "test_mse and float64 and cpu", "--hypothesis-seed=2"]),
    "causes": dict(impl_options=[o for o, _ in ONE_CAUSE_EACH], extra_args=[*QUICK, "--dtype", "float64"]),
    "first": dict(impl_options=["mse=tests.catalogue.regression:mse_mean_over_batch"],
                  extra_args=[*QUICK, "--dtype", "float64", "--first-finding"]),
    # a correct plug-in checked on a device this machine lacks: nothing is checked, so no verdict
    "nothing": dict(impl_options=["mse=tests.catalogue.regression:mse_loss"],
                    extra_args=[*QUICK, "--device", "cuda", "-k", "test_mse or test_edge_mse"]),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, GateResult]:
    return run_many([(k, dict(v, timeout=400.0)) for k, v in RUNS.items()], workers=2)


def _context(result: GateResult) -> str:
    return f"\nreproduce: {result.command_line}\n{result.describe()}\n--- output (tail) ---\n{result.tail(60)}"


def _finding_lines(output: str) -> list[str]:
    return re.findall(r"^FINDING \d+ \[.*$", output, re.M)


def test_worst_example_is_reported_beside_the_minimal_one(runs):
    result = runs["worst"]
    assert result.returncode == 1, _context(result)
    worst = re.search(r"^worst example found \(agreement, largest error/bound = ([0-9.e+-]+)\)", result.output, re.M)
    assert worst, "no worst example in the report" + _context(result)
    minimal = re.search(r"^minimal example \(agreement\): .*\n.*error/bound = ([0-9.e+-]+)", result.output, re.M)
    assert minimal, "no minimal example in the report" + _context(result)
    assert float(worst[1]) >= 100, f"worst example's error/bound {worst[1]} < 100 x the bound" + _context(result)
    assert float(worst[1]) >= float(minimal[1]), _context(result)


@pytest.mark.parametrize("option, cause", ONE_CAUSE_EACH, ids=[o.rpartition(":")[2] for o, _ in ONE_CAUSE_EACH])
def test_one_finding_line_per_cause(runs, option, cause):
    result = runs["causes"]
    assert result.returncode == 1, _context(result)
    key = option.replace(":", ".", 1).rsplit(".", 1)
    qualname = f"{option.partition('=')[0]}={option.partition('=')[2].replace(':', '.')}"
    mine = [ln for ln in _finding_lines(result.output) if f"[{qualname}]" in ln]
    assert len(mine) == 1, f"{qualname}: {len(mine)} finding lines, expected one per cause: {mine}" + _context(result)
    assert cause in mine[0], f"{qualname}: expected the cause {cause!r}: {mine[0]}" + _context(result)
    assert key


def test_each_finding_shows_a_shrunk_example(runs):
    """Only a plug-in's first failure per check family is shrunk (``--shrink-all``: every one), and
    each finding's detail is a shrunk one: as many "minimal example" headers as findings."""
    result = runs["causes"]
    assert result.returncode == 1, _context(result)
    headers = re.findall(r"^(minimal example|first failing example) \(", result.output, re.M)
    assert headers and set(headers) == {"minimal example"}, headers + [_context(result)]
    assert len(headers) == len(_finding_lines(result.output)), _context(result)


def test_float32_inside_is_a_short_report(tmp_path):
    """``lossproof gate`` (the console script's code path, ``python -m properties gate``), default output."""
    cmd = [sys.executable, "-m", "properties", "gate", "-q", *QUICK,
           "--impl", f"cross_entropy={FINDINGS}:cross_entropy_float32_inside"]
    env = dict(os.environ, COLUMNS="120", PYTHONDONTWRITEBYTECODE="1")
    env.pop("LOSSPROOF_IMPL", None)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    # the report's lines: not pytest's progress lines (one character per test: their number grows with the suite)
    lines = [ln for ln in output.rstrip().splitlines() if not PROGRESS.match(ln)]
    context = f"\n{' '.join(cmd)}\nexit {proc.returncode}\n--- output ---\n{output[-6000:]}"
    assert proc.returncode == 1, context
    assert len(lines) <= 60, f"{len(lines)} report lines (at most 60)" + context
    findings = _finding_lines(output)
    assert len(findings) == 1 and "dtype=float64" in findings[0], context
    assert "Reproduce:" in output and "Traceback" not in output, context


def test_first_finding_stops_checking_that_plugin(runs):
    result = runs["first"]
    assert result.returncode == 1, _context(result)
    counts = result.counts
    assert counts.get("failed") == 1, f"--first-finding: expected exactly one failed test, got {counts}" + _context(result)
    assert re.search(r"not checked \(\d+ tests\): --first-finding: mse=\S+ already has a finding", result.output), (
        "the tests after the first finding are not reported as skipped by --first-finding" + _context(result))


@pytest.mark.skipif(not CUDA_ABSENT, reason="needs a machine without CUDA (nothing checked on --device cuda)")
def test_a_run_that_checks_no_example_is_incomplete_not_a_pass(runs):
    """A correct implementation, but every selected test skips (no CUDA device): exit 6, never 0."""
    result = runs["nothing"]
    assert result.returncode == 6, _context(result)
    assert "INCOMPLETE mse=tests.catalogue.regression.mse_loss: agreement checked no example" in result.output, (
        _context(result))
    assert "lossproof verdict: incomplete" in result.output, _context(result)
