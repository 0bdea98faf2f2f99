"""The ``lossproof`` command (console script; also ``python -m properties``): ``gate`` and ``audit``.

``lossproof audit ...`` is ``properties.audit`` (its module docstring lists the options).

``lossproof gate --impl LOSS=MODULE:ATTR [--impl ...] [PYTEST ARGS...]`` runs the installed
suite (the ``tests/`` directory of this project, shipped in the wheel as ``lossproof_tests``)
against the named implementations: exactly ``pytest --impl ...`` in a checkout of this
repository, usable from any other repository after ``pip install lossproof``.  The current
directory is importable (``MODULE`` is imported as Python would); any other argument is passed
to pytest (``-x``, ``-k``, ``--hypothesis-profile=ci``, ``--impl-timeout``, ``-q`` ...).  Exit
status: pytest's (0 conforms, 1 findings, 2-4 usage or internal error); 5 (nothing collected)
is turned into 4 (usage), since a gate that checks nothing must not pass silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

#: pytest settings of the suite (pyproject's [tool.pytest.ini_options], which is not installed)
INI = """[pytest]
addopts = -ra -p properties.pytest_plugin
filterwarnings =
    ignore:reduction. 'mean' divides the total loss:UserWarning
    ignore::DeprecationWarning:libcst.*
    ignore:single channel prediction:UserWarning
"""


def suite_dir() -> Path:
    """Where the suite's test modules are: the installed ``lossproof_tests`` package, else the
    ``tests/`` directory beside ``properties/`` (a checkout)."""
    spec = importlib.util.find_spec("lossproof_tests")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    here = Path(__file__).resolve().parents[1] / "tests"
    if here.is_dir():
        return here
    raise SystemExit("lossproof: the test suite is not installed (no lossproof_tests package, no tests/ checkout)")


def gate(argv: list[str]) -> int:
    import pytest

    parser = argparse.ArgumentParser(
        prog="lossproof gate", description="Check loss implementations with every check of the suite "
        "(pytest --impl). Unknown arguments go to pytest.")
    parser.add_argument("--impl", action="append", default=[], metavar="LOSS=MODULE:ATTR",
                        help="implementation to check (repeatable; or env LOSSPROOF_IMPL)")
    args, rest = parser.parse_known_args(argv)
    if not args.impl and not os.environ.get("LOSSPROOF_IMPL"):
        parser.error("name at least one implementation: --impl LOSS=MODULE:ATTR (or set LOSSPROOF_IMPL)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    tests = suite_dir()
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text(INI)
        pytest_args = ["-c", str(ini), "--rootdir", str(tests), "-p", "no:cacheprovider", str(tests),
                       *[f"--impl={v}" for v in args.impl], *rest]
        rc = int(pytest.main(pytest_args))
    if rc == 5:
        print("lossproof gate: no test was collected for the given implementations", file=sys.stderr)
        return 4
    return rc


def audit(argv: list[str]) -> int:
    from .audit import main as audit_main

    return audit_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"gate": gate, "audit": audit}
    if not argv or argv[0] not in commands:
        print("usage: lossproof gate --impl LOSS=MODULE:ATTR [PYTEST ARGS...]\n"
              "       lossproof audit [--quick] [--loss LOSS] [--impl LOSS=MODULE:ATTR] [--baseline OLD.json] ...\n\n"
              "  gate   check your loss implementation(s) with every check of the suite\n"
              "  audit  measure how accurately each implementation computes each loss (Markdown, JSON, PNG report)",
              file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
