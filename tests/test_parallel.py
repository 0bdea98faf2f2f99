"""The suite and the gate under pytest-xdist (``-n 2``): the same verdicts, findings, coverage
counts and summaries as in one process.

- a gate run with a buggy and a correct plug-in of one loss: the workers' records (tests, outcomes,
  examples, findings) are merged in the controller (``GateRun.export`` / ``merge``), so the run
  exits 1 with one FINDING for the buggy plug-in, the correct one is listed with its examples, and
  the totals equal a one-process run of the same selection;
- a self-test run: the reference-accuracy and tolerance-tightness tables, gathered by the
  workers, are printed by the controller (``conftest.py``).

Skipped without pytest-xdist.  Like every test without a plug-in subject, deselected in a gate run.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
pytest.importorskip("xdist", reason="pytest-xdist is not installed")
from tests.catalogue.runner import REPO, GateResult, run_many  # noqa: E402

BUGGY = "mse=tests.catalogue.regression:mse_mean_over_batch"
CORRECT = "mse=tests.catalogue.regression:mse_loss"
SELECT = ["--dtype", "float64", "-k", "test_mse or test_edge_mse or plugin_loads"]
FAMILY = re.compile(r"^\s+(agreement|edge cases|contract)\s+(\d+) examples \((\d+) calls\) in (\d+) tests;(.*)$", re.M)


@pytest.fixture(scope="module")
def runs() -> dict[str, GateResult]:
    jobs = [("one", dict(impl_options=[BUGGY, CORRECT], extra_args=["-n", "0", *SELECT])),
            ("two", dict(impl_options=[BUGGY, CORRECT], extra_args=["-n", "2", *SELECT]))]
    return run_many([(k, dict(v, timeout=400.0)) for k, v in jobs], workers=2)


def _families(result: GateResult) -> dict:
    out = {}
    for key, lines in result.coverage().items():
        for family, examples, calls, tests, outcomes in FAMILY.findall("\n".join("  " + ln for ln in lines)):
            out[(key, family)] = int(tests)
    return out


def _context(result: GateResult) -> str:
    return f"\nreproduce: {result.command_line}\n{result.describe()}\n--- output (tail) ---\n{result.tail(60)}"


def test_gate_verdict_findings_and_coverage_are_merged_from_the_workers(runs):
    one, two = runs["one"], runs["two"]
    assert one.returncode == 1, _context(one)
    assert two.returncode == 1, _context(two)
    assert "lossproof verdict: findings on cpu" in two.output, _context(two)
    buggy = BUGGY.replace(":", ".")
    findings = [ln for ln in two.output.splitlines() if re.match(r"^FINDING \d+ \[", ln)]
    assert findings and all(f"[{buggy}]" in ln for ln in findings), f"findings: {findings}" + _context(two)
    assert _families(two) == _families(one), (
        f"per-plug-in test counts differ between -n 2 and one process:\n{_families(two)}\n"
        f"{_families(one)}" + _context(two))
    examples = re.findall(r"^\s+agreement\s+(\d+) examples", two.output, re.M)
    assert len(examples) == 2 and all(int(n) > 0 for n in examples), _context(two)
    correct = two.coverage()[CORRECT.replace(":", ".")]
    assert not any("failed" in ln for ln in correct), f"the correct plug-in failed under -n 2: {correct}" + _context(two)


def test_self_test_summaries_come_back_from_the_workers():
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
           "tests/test_reference_exact.py", "tests/gate/test_agreement.py", "-k", "hinge_embedding and not cuda"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert re.search(r"reference accuracy vs mpmath.*\n.*\nhinge_embedding\s+\d", out), out[-4000:]
    assert re.search(r"tolerance tightness.*\n.*\nhinge_embedding\s+[0-9.e+-]+", out), out[-4000:]
