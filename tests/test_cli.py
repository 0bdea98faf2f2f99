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


def _gate(tmp_path, *args, module: str, files: dict | None = None, path: tuple = ()):
    """``python -m properties gate ARGS`` in ``tmp_path`` holding ``userlosses.py`` (``module``) and
    ``files`` (relative path -> source); ``path``: directories put on PYTHONPATH before the checkout."""
    (tmp_path / "userlosses.py").write_text(textwrap.dedent(module))
    for name, source in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, path), str(ROOT)])}
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


@pytest.mark.parametrize("where", [None, "off", "db"], ids=["default", "off", "dir"])
def test_example_database_is_where_the_option_says(tmp_path, monkeypatch, where):
    """Failing examples are kept in ./.hypothesis (replayed first next time) unless
    ``--example-database`` says elsewhere or ``off`` (the ``ci`` profile keeps none: CI unset here)."""
    monkeypatch.delenv("CI", raising=False)
    wrong = MSE.replace('t.mean()', 't.sum() / (t.numel() + 1)')
    option = [] if where is None else ["--example-database", where]
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-k", "test_mse and float64 and mean-plain", *option,
                module=wrong)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    # (.hypothesis/constants is Hypothesis's cache of the code's constants, not examples: not counted)
    stored = {str(d.relative_to(tmp_path)) for d in (tmp_path / ".hypothesis" / "examples", tmp_path / "db")
              if d.is_dir() and any(p.is_file() for p in d.rglob("*"))}
    assert stored == ({".hypothesis/examples"} if where is None else set() if where == "off" else {"db"}), stored


def test_gate_that_collects_nothing_is_an_error_not_a_pass(tmp_path):
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-k", "no_such_test", module=MSE)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.parametrize("args", [[], ["--impl", "nosuchloss=userlosses:mse"]], ids=["no-impl", "unknown-loss"])
def test_gate_usage_errors(tmp_path, args):
    run = _gate(tmp_path, *args, module=MSE)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert "impl" in (run.stdout + run.stderr)


# --- exit statuses that cannot be confused: 0 conforms, 1 findings, 3 harness error, 4 usage, 6 incomplete

def _diagnosis(run) -> str:
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("lossproof gate: ")]
    assert len(lines) == 1, run.stderr[-3000:]
    return lines[0]


def test_user_modules_named_like_the_suites_helpers_do_not_shadow_them(tmp_path):
    """A user's implementation importing its own ``matrix`` / ``mutants`` (here) and
    ``invariant_mutants`` (on PYTHONPATH), and their own ``tests`` package, before the suite is
    collected: the suite's helpers are imported relatively (it runs as the package
    ``lossproof_tests``), so sys.modules' ``matrix`` & co. are never taken for them (before:
    ``ImportError: cannot import name ... from 'matrix'``, a collection error)."""
    extra = tmp_path / "on_pythonpath"
    extra.mkdir()
    (extra / "invariant_mutants.py").write_text("KIND = 'user'\n")
    files = {"matrix.py": "SCALE = 1.0\n", "mutants.py": "KIND = 'user'\n", "tests/__init__.py": "",
             "tests/matrix.py": "raise RuntimeError('tests/matrix.py of the user was imported')\n",
             "tests/userlosses.py": MSE}  # the user's own `tests` package holds an implementation too
    module = "import invariant_mutants, matrix, mutants\n" + textwrap.dedent(MSE)
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "--impl", "mse=tests.userlosses:mse", "-q",
                "-k", "test_mse and float64 and plain", module=module, files=files, path=[extra])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "mse=userlosses.mse" in run.stdout and "mse=tests.userlosses.mse" in run.stdout
    assert "was imported" not in run.stdout + run.stderr


@pytest.mark.parametrize("x", [[], ["-x"]], ids=["plain", "-x"])
def test_a_user_module_shadowing_a_dependency_is_a_harness_error(tmp_path, x):
    """A user's module shadowing a dependency the suite imports (here ``scipy``, which the references
    import; the current directory is first on the path) breaks the suite: exit 3 with a one-line
    diagnosis naming the module, never pytest's 1 (which ``-x`` gives a collection error) or 2.  (A
    suite module that does not import: ``test_a_broken_suite_install_is_a_harness_error``.)"""
    files = {"scipy.py": 'raise RuntimeError("not the real scipy")\n'}
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", *x, "-k", "test_mse and float64 and plain",
                module=MSE, files=files)
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-2000:]
    line = _diagnosis(run)
    assert "harness error" in line and "RuntimeError: not the real scipy" in line and "scipy.py" in line, line


def test_a_broken_suite_install_is_a_harness_error(tmp_path):
    """A suite module that does not import (a broken ``lossproof_tests`` first on the path): 3, and
    the diagnosis names the module and the error."""
    pkg = tmp_path / "broken" / "lossproof_tests"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "test_ok.py").write_text("def test_ok():\n    pass\n")
    (pkg / "test_broken.py").write_text("from .helpers import missing_name\n")
    (pkg / "helpers.py").write_text("")
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-x", module=MSE, path=[tmp_path / "broken"])
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-2000:]
    line = _diagnosis(run)
    assert "cannot collect lossproof_tests/test_broken.py: ImportError: cannot import name 'missing_name'" in line


@pytest.mark.parametrize("args", [["--collect-only"], ["--hypothesis-profile=no_such_profile"], ["--no-such-option"]],
                         ids=["collect-only", "unknown-profile", "unknown-option"])
def test_options_that_check_nothing_or_do_not_exist_are_usage_errors(tmp_path, args):
    run = _gate(tmp_path, "--impl", "mse=userlosses:mse", "-q", "-k", "test_mse and float64 and plain", *args,
                module=MSE)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]


def test_exit_status_mapping():
    """pytest's status (and what the gate saw) -> the gate's: 5 -> 4, 2 -> 3, a collection error -> 3
    whatever pytest said; the plug-in's own 6 (incomplete) and 3 (harness) pass through."""
    from properties.cli import Watch, exit_status

    clean = Watch(ROOT / "tests")
    assert [exit_status(rc, clean)[0] for rc in (0, 1, 3, 4, 5, 6, 2, 7)] == [0, 1, 3, 4, 4, 6, 3, 3]
    assert exit_status(0, clean)[1] is None and exit_status(1, clean)[1] is None
    broken = Watch(ROOT / "tests")
    broken.collect_errors = [("lossproof_tests/test_x.py", "ImportError: no"), ("lossproof_tests/test_y.py", "E")]
    for rc in (0, 1, 2, 5, 6):
        status, line = exit_status(rc, broken)
        assert status == 3 and line.startswith("harness error: cannot collect lossproof_tests/test_x.py: ImportError")
        assert "1 more: lossproof_tests/test_y.py" in line and "\n" not in line
    unloaded = Watch(ROOT / "tests")
    unloaded.broken = ["mse=m:f: cannot import 'm'"]
    assert exit_status(0, unloaded) == (1, "findings: mse=m:f: cannot import 'm'")
    assert [exit_status(rc, unloaded)[0] for rc in (1, 3, 6)] == [1, 3, 6]


def test_a_plugin_that_does_not_load_never_passes_even_when_k_leaves_out_its_load_test(tmp_path):
    run = _gate(tmp_path, "--impl", "mse=no_such_module_xyz:mse", "-q", "-k", "test_mse and float64 and plain",
                module=MSE)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "cannot import 'no_such_module_xyz'" in _diagnosis(run)


def test_the_wheel_ships_every_package_and_data_file_the_gate_needs():
    """pyproject's explicit package list (``lossproof_tests`` = tests/gate/, properties, refimpl and
    their subpackages) covers every directory of Python modules the gate runs, and package-data every
    other file there (known_deviations.toml, the audit schema); the project's self-tests (the rest of
    tests/, its catalogue) are not shipped."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {name: ROOT / setup.get("package-dir", {}).get(name, name.replace(".", "/")) for name in setup["packages"]}
    assert (ROOT / "tests" / "gate" / "__init__.py").is_file() and dirs["lossproof_tests"] == ROOT / "tests" / "gate"
    shipped = {d.resolve() for d in dirs.values()}
    assert (ROOT / "tests").resolve() not in shipped and (ROOT / "tests" / "catalogue").resolve() not in shipped
    for top in ("properties", "refimpl", "tests/gate"):
        for py in (ROOT / top).rglob("*.py"):
            assert py.parent.resolve() in shipped, f"{py.parent.relative_to(ROOT)} is not in [tool.setuptools] packages"
    data = {f for name, patterns in setup.get("package-data", {}).items() for pattern in patterns
            for f in dirs[name].glob(pattern)}
    for d in shipped:
        for f in d.iterdir():
            if f.is_file() and f.suffix != ".py":
                assert f in data, f"{f.relative_to(ROOT)} is not in [tool.setuptools.package-data]"
