"""``lossproof gate`` (= ``python -m properties gate``): the suite run from another directory
against a user's module, as another repository's CI runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _gate(tmp_path, *args, module: str):
    (tmp_path / "userlosses.py").write_text(textwrap.dedent(module))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LOSSPROOF_IMPL", None)
    return subprocess.run([sys.executable, "-m", "properties", "gate", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


MSE = """
    def mse(input, target, reduction="mean"):
        t = (input - target) ** 2
        return {"none": t, "mean": t.mean(), "sum": t.sum()}[reduction]
"""


def test_gate_passes_a_conforming_module_from_another_directory(tmp_path):
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-k", "test_mse and float32 and plain", module=MSE)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "passed" in run.stdout and "mse=userlosses.mse" in run.stdout  # the coverage summary


def test_gate_fails_a_wrong_module_with_exit_1(tmp_path):
    wrong = MSE.replace('t.mean()', 't.sum() / (t.numel() + 1)')  # a denominator off by one
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-x", "-k", "test_mse and float64", module=wrong)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "outside the bound" in run.stdout


def test_gate_that_collects_nothing_is_an_error_not_a_pass(tmp_path):
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-k", "no_such_test", module=MSE)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.parametrize("args", [[], ["--impl", "nosuchloss=userlosses:mse"]], ids=["no-impl", "unknown-loss"])
def test_gate_usage_errors(tmp_path, args):
    run = _gate(tmp_path, *args, module=MSE)
    assert run.returncode in (2, 4) and run.returncode != 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "impl" in (run.stdout + run.stderr)
