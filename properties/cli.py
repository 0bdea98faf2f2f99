"""The ``lossproof`` command (console script; also ``python -m properties``): ``gate`` and ``audit``.

``lossproof audit ...`` is ``properties.audit`` (its module docstring lists the options).

``lossproof gate --impl LOSS=MODULE:ATTR [--impl ...] [PYTEST ARGS...]`` runs the installed
suite (the gate's test modules, ``tests/gate/`` of this project, shipped in the wheel as the
package ``lossproof_tests``; the project's self-tests are not installed) against the named implementations: exactly ``pytest --impl ...`` in a
checkout of this repository, usable from any other repository once lossproof is installed.
The current directory is importable (``MODULE`` is imported as Python would); any other argument
is passed to pytest (``-x``, ``-k``, ``--hypothesis-profile=ci``, ``--impl-timeout``, ``-q`` ...).

The suite always runs as the package ``lossproof_tests`` (a checkout's ``tests/gate/`` through a
temporary link of that name) and imports its helpers relatively, so a user's own ``tests``
package, ``matrix.py`` or ``mutants.py`` cannot shadow them.

Exit status (``EXIT_STATUS``), never confused with one another:

- 0 conforms: every selected check ran and passed (recorded known deviations allowed);
- 1 findings: a check failed on the implementation (a broken ``--impl`` module included);
- 3 harness error: the suite itself failed -- a suite module does not import or collect (also
  under ``-x``), a pytest internal error, an interrupted run; one line on stderr names the
  module and the error.  The pytest plugin also ends with 3 when a test failed from a harness
  exception rather than a finding;
- 4 usage error: bad options, or nothing to check (no test collected: pytest's 5; or an option
  that runs no check, such as ``--collect-only``);
- 6 incomplete: set by the pytest plugin when a check family ran 0 examples (passed through).

A harness error is never reported as 0 or 1.
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
addopts = -p properties.pytest_plugin
filterwarnings =
    ignore:reduction. 'mean' divides the total loss:UserWarning
    ignore::DeprecationWarning:libcst.*
    ignore:single channel prediction:UserWarning
    ignore:Using a target size .* that is different to the input size:UserWarning
"""

#: the gate's exit statuses
EXIT_CONFORMS, EXIT_FINDINGS, EXIT_HARNESS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 3, 4, 6
EXIT_STATUS = {EXIT_CONFORMS: "conforms", EXIT_FINDINGS: "findings", EXIT_HARNESS: "harness error",
               EXIT_USAGE: "usage error", EXIT_INCOMPLETE: "incomplete"}

#: the package name the suite runs under (never ``tests``: a user's own ``tests`` package would clash)
PACKAGE = "lossproof_tests"

EPILOG = """exit status:
  0  conforms       every selected check passed (recorded known deviations allowed)
  1  findings       a check failed on the implementation (a broken --impl module included)
  3  harness error  the suite itself failed (a module does not import/collect, also under -x;
                    a pytest internal error; an interrupted run): one line on stderr says where
  4  usage error    bad options, or nothing checked (no test collected, --collect-only ...)
  6  incomplete     a check family ran 0 examples (set by the suite's pytest plugin)
pytest's own options: python3 -m pytest --help"""


class HarnessError(Exception):
    """The suite cannot run (exit status 3); the message is the one-line diagnosis."""


def suite_dir() -> Path:
    """Where the gate's test modules are: the installed ``lossproof_tests`` package, else the
    ``tests/gate/`` directory beside ``properties/`` (a checkout)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    here = Path(__file__).resolve().parents[1] / "tests" / "gate"
    if here.is_dir():
        return here
    raise HarnessError(f"the test suite is not installed (no {PACKAGE} package, no tests/ checkout)")


def _as_package(tests: Path, tmp: Path) -> Path:
    """``tests`` as a directory named ``lossproof_tests``: itself when installed, else (a checkout's
    ``tests/gate/``) a link of that name in ``tmp``, so that pytest imports ``lossproof_tests.test_x``."""
    if tests.name == PACKAGE:
        return tests
    link = tmp / PACKAGE
    try:
        link.symlink_to(tests, target_is_directory=True)
    except OSError:  # no symbolic links here: run it as the package ``tests``
        return tests
    # pytest's cached rewritten modules would keep the link's (temporary) path as their file name
    sys.dont_write_bytecode = True
    return link


def _innermost(exc: BaseException) -> str:
    """``path:line`` of the innermost Python frame of ``exc``'s traceback ('' when none)."""
    tb, where = exc.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<"):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def describe(exc: BaseException) -> str:
    """``Type: first line of the message (at path:line)`` of an exception; a pytest collection
    error is described by the exception that caused it."""
    import pytest

    if isinstance(exc, pytest.Collector.CollectError) and exc.__cause__ is not None:
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    where = _innermost(exc)
    return f"{text} (at {where})" if where else text


class Watch:
    """An in-process pytest plugin recording what pytest's exit status does not tell apart:
    collection errors (pytest says 1 under ``-x``, 2 otherwise), internal errors, interrupts, and
    options that run no check."""

    NO_CHECK = {"collectonly": "--collect-only", "setuponly": "--setup-only", "setupplan": "--setup-plan",
                "showfixtures": "--fixtures", "show_fixtures_per_test": "--fixtures-per-test",
                "markers": "--markers", "version": "--version"}

    def __init__(self, suite: Path):
        self.suite = suite
        self.collect_errors: list[tuple[str, str]] = []  # (suite module, error)
        self._exceptions: dict[str, str] = {}  # collector nodeid -> describe(exception)
        self.internal: str | None = None
        self.internal_exc: BaseException | None = None
        self.interrupted: str | None = None
        self.no_check: str | None = None
        self.broken: list[str] = []  # the diagnoses of --impl plug-ins that do not load

    def _module(self, report) -> str:
        """``lossproof_tests/test_x.py`` (node ids are relative to the suite's directory)."""
        path = report.nodeid.split("::")[0].strip("/.")
        return f"{self.suite.name}/{path}" if path else self.suite.name

    def pytest_configure(self, config):
        self.no_check = next((opt for attr, opt in self.NO_CHECK.items() if getattr(config.option, attr, False)),
                             None)

    def pytest_exception_interact(self, node, call, report):
        if report.when == "collect" and report.failed and call.excinfo is not None:
            self._exceptions[report.nodeid] = describe(call.excinfo.value)

    def pytest_collectreport(self, report):
        if not report.failed:
            return
        error = self._exceptions.get(report.nodeid)
        if error is None:  # no exception seen: the last "E   ..." line of the report, else its last line
            text = [ln for ln in str(report.longrepr).splitlines() if ln.strip()] or ["collection failed"]
            error = next((ln[1:].strip() for ln in reversed(text) if ln.startswith("E ")), text[-1].strip())
        self.collect_errors.append((self._module(report), error))

    def pytest_sessionfinish(self, session):
        from .subjects import plugin_subjects

        self.broken = [s.broken for s in plugin_subjects() if s.broken]

    def pytest_internalerror(self, excrepr, excinfo):
        if self.internal is None:
            self.internal, self.internal_exc = describe(excinfo.value), excinfo.value

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = describe(excinfo.value)


def exit_status(rc: int, watch: Watch) -> tuple[int, str | None]:
    """The gate's exit status for pytest's ``rc`` and what ``watch`` saw, and the one-line
    diagnosis to print (None: pytest's own output says it)."""
    if watch.collect_errors:  # whatever pytest made of it: 1 under -x, 2 (interrupted) otherwise
        module, error = watch.collect_errors[0]
        more = len(watch.collect_errors) - 1
        tail = f" (and {more} more: {', '.join(m for m, _ in watch.collect_errors[1:4])}" \
               f"{', ...' if more > 3 else ''})" if more else ""
        return EXIT_HARNESS, f"harness error: cannot collect {module}: {error}{tail}"
    if rc in (0, 5) and watch.broken:  # -k/-m left out test_gate_plugin_loads: an unloadable plug-in never passes
        return EXIT_FINDINGS, f"findings: {watch.broken[0]}" + (f" (and {len(watch.broken) - 1} more)"
                                                                 if len(watch.broken) > 1 else "")
    if rc == 5:
        return EXIT_USAGE, "usage error: no test was collected for the given implementations " \
                           "(does -k/-m or --impl select any check?)"
    if rc == 0 and watch.no_check:
        return EXIT_USAGE, f"usage error: {watch.no_check} runs no check; the gate does not pass without checking"
    if rc in (EXIT_CONFORMS, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE):
        return rc, None
    exc = watch.internal_exc
    if rc == 3 and type(exc).__name__ == "InvalidArgument" and type(exc).__module__.startswith("hypothesis"):
        return EXIT_USAGE, f"usage error: {exc}"  # --hypothesis-profile=NAME not registered, a bad --hypothesis-seed
    if rc == 3:  # a pytest internal error, or the plugin's "a test failed from a harness exception"
        return EXIT_HARNESS, (f"harness error: pytest internal error: {watch.internal}" if watch.internal else
                              "harness error: a check failed from an error of the suite, not a finding (see above)")
    if rc == 2:
        return EXIT_HARNESS, f"harness error: the run was interrupted: {watch.interrupted or 'pytest.exit()'}"
    return EXIT_HARNESS, f"harness error: unexpected pytest exit status {rc}"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's 2 is pytest's "interrupted": usage errors are 4 here
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def gate(argv: list[str]) -> int:
    parser = _Parser(
        prog="lossproof gate", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Check loss implementations with every check of the suite (pytest --impl). "
        "Unknown arguments go to pytest (-x, -k EXPR, -q, --hypothesis-profile=ci, --impl-timeout S ...).")
    parser.add_argument("--impl", action="append", default=[], metavar="LOSS=MODULE:ATTR",
                        help="implementation to check (repeatable; or env LOSSPROOF_IMPL)")
    args, rest = parser.parse_known_args(argv)
    if not args.impl and not os.environ.get("LOSSPROOF_IMPL"):
        parser.error("name at least one implementation: --impl LOSS=MODULE:ATTR (or set LOSSPROOF_IMPL)")
    if "--version" in rest:  # pytest.main answers it without running anything
        parser.error("--version runs no check (pytest's version: python3 -m pytest --version)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        import pytest

        with tempfile.TemporaryDirectory() as tmp:
            tests = _as_package(suite_dir(), Path(tmp))
            ini = Path(tmp) / "pytest.ini"
            ini.write_text(INI)
            watch = Watch(tests)
            pytest_args = ["-c", str(ini), "--rootdir", str(tests), "--confcutdir", str(tests),
                           "-p", "no:cacheprovider", str(tests), *[f"--impl={v}" for v in args.impl], *rest]
            rc = int(pytest.main(pytest_args, plugins=[watch]))
    except HarnessError as exc:
        rc, diagnosis = EXIT_HARNESS, f"harness error: {exc}"
    except Exception as exc:  # pytest itself or the suite's plugin failed before the session
        rc, diagnosis = EXIT_HARNESS, f"harness error: {describe(exc)}"
    else:
        rc, diagnosis = exit_status(rc, watch)
    if diagnosis:
        print(f"lossproof gate: {diagnosis}", file=sys.stderr)
    return rc


def audit(argv: list[str]) -> int:
    from .audit import main as audit_main

    return audit_main(argv)


def coverage(argv: list[str]) -> int:
    from .coverage import main as coverage_main

    return coverage_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"gate": gate, "audit": audit, "coverage": coverage}
    if not argv or argv[0] not in commands:
        print("usage: lossproof gate --impl LOSS=MODULE:ATTR [PYTEST ARGS...]\n"
              "       lossproof audit [--quick] [--loss LOSS] [--impl LOSS=MODULE:ATTR] [--baseline OLD.json] ...\n"
              "       lossproof coverage [--loss LOSS] [--dtype DTYPE] [--examples N]\n\n"
              "  gate   check your loss implementation(s) with every check of the suite\n"
              "  audit  measure how accurately each implementation computes each loss (Markdown, JSON, PNG report)\n"
              "  coverage  what the gate's strategies feed a loss: the share of examples per magnitude band",
              file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
