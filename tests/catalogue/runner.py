"""Running the ``--impl`` gate as a subprocess, for the catalogue meta-test (``tests/test_catalogue.py``)
and the benchmark (``bench/bench_gate.py``).

:func:`run_gate` runs ``python -m pytest -q -p no:cacheprovider [extra args] --impl ...`` in the
repository root with the caller's environment (so the Hypothesis profile -- ``CI=1``: the
derandomized ``ci`` profile -- carries over) and returns a :class:`GateResult`: exit status,
wall time, the output, the first failing test and, parsed from the gate's coverage summary, the
outcome counts of each plug-in.  :func:`run_many` runs several gate runs on a thread pool.

Attributing a failing test id to a plug-in: the gate names the plug-ins of one loss ``impl``,
``impl2``, ``impl3`` ... in ``--impl`` order, and every test id of a plug-in carries that name
(``test_edge_mse[impl2-float32-cpu-nan]``, ``test_bad_input_is_refused[mse-impl-cpu-...]``):
:func:`plugin_name` reads it back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

#: The repository root (``tests/catalogue/runner.py`` -> ``.``).
REPO = Path(__file__).resolve().parents[2]

#: exit statuses of a gate run (pytest's, as the gate's plugin sets them: properties/pytest_plugin.py):
#: 0 conforms, 1 findings, 2 interrupted (a usage error raised in pytest_configure ends here too),
#: 3 harness error (or pytest internal error), 4 usage error, 5 no tests collected, 6 incomplete.
EXIT_MEANING = {0: "conforms", 1: "findings", 2: "interrupted (or a usage error at configure time)",
                3: "harness error (the suite failed, not the plug-in)", 4: "pytest usage error",
                5: "no tests collected", 6: "incomplete (a check family checked no example)"}

_FAILED = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$", re.M)
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?)")
_COVERAGE_HEADER = "lossproof gate coverage"


@dataclass
class GateResult:
    impl_options: tuple[str, ...]
    command: list[str]
    returncode: int | None  # None: killed after the timeout
    wall: float  # seconds, start of the subprocess to its end (interpreter start-up and collection included)
    output: str  # stdout and stderr together
    timeout: float
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (FAILED|ERROR, test id, message)

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def first_failed(self) -> str | None:
        """The first failing test's id (``tests/test_x.py::test_y[...]``), or None."""
        return self.failures[0][1] if self.failures else None

    @property
    def first_message(self) -> str:
        return self.failures[0][2] if self.failures else ""

    @property
    def counts(self) -> dict[str, int]:
        """The final pytest line's counts: ``{"passed": 110, "skipped": 109, ...}``."""
        lines = [ln for ln in self.output.strip().splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", ln)]
        if not lines:
            return {}
        return {k.rstrip("s") if k.startswith(("error", "warning")) else k: int(n)
                for n, k in _COUNTS.findall(lines[-1])}

    def coverage(self) -> dict[str, list[str]]:
        """The gate's coverage summary: ``{"mse=tests.catalogue.regression.mse_loss": [lines ...]}``."""
        out: dict[str, list[str]] = {}
        lines = self.output.splitlines()
        start = next((i for i, ln in enumerate(lines) if _COVERAGE_HEADER in ln), None)
        if start is None:
            return out
        key = None
        for ln in lines[start + 1:]:
            if ln.startswith("=") or ln.startswith("_"):
                break
            if ln and not ln.startswith(" "):
                key = ln.strip()
                out[key] = []
            elif key is not None and ln.strip():
                out[key].append(ln.strip())
        return out

    @property
    def command_line(self) -> str:
        """The command to reproduce this run (from the repository root)."""
        return " ".join(["python" if c == sys.executable else c for c in self.command])

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])

    def describe(self) -> str:
        if self.timed_out:
            return f"killed after the {self.timeout:g} s timeout"
        return f"exit status {self.returncode} ({EXIT_MEANING.get(self.returncode, 'unknown')})"


#: the gate's test modules (the rest of tests/ is the project's self-tests: a gate run deselects them)
GATE = "tests/gate"


def gate_command(impl_options, extra_args=()) -> list[str]:
    """``pytest --impl ...`` on the gate's modules (``extra_args`` naming test files or ids: those)."""
    named = any(not a.startswith("-") and (a.endswith(".py") or ".py::" in a) for a in extra_args)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra_args, *(() if named else (GATE,))]
    for option in impl_options:
        cmd += ["--impl", option]
    return cmd


def run_gate(impl_options, extra_args=(), timeout: float = 300.0, env: dict | None = None) -> GateResult:
    """Run the gate on ``impl_options`` (``["mse=tests.catalogue.regression:mse_loss", ...]``) in the
    repository root; ``extra_args`` go before the ``--impl`` options (``["-x"]``, ``["-k", "expr"]``).
    A run past ``timeout`` seconds is killed (its whole process group) and has ``returncode`` None."""
    impl_options = (impl_options,) if isinstance(impl_options, str) else tuple(impl_options)
    cmd = gate_command(impl_options, extra_args)
    environment = dict(os.environ if env is None else env)
    environment.pop("LOSSPROOF_IMPL", None)  # the plug-ins are exactly the ones named here
    # bytecode cached (``__pycache__``, git-ignored): each of the meta-tests' ~40 gate runs would otherwise
    # compile the project and rewrite the gate's test modules again (0.7 s a run)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["COLUMNS"] = "250"  # the short summary's "FAILED id - message" lines are cut at the terminal width
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this call started, nothing else
        except ProcessLookupError:
            pass
        output, _ = proc.communicate()
        returncode = None
    wall = time.monotonic() - start
    failures = [(kind, nodeid, msg or "") for kind, nodeid, msg in _FAILED.findall(output)]
    return GateResult(impl_options, cmd, returncode, wall, output, timeout, failures)


def run_many(jobs, workers: int = 2):
    """Run ``jobs`` (a list of ``(key, kwargs for run_gate)``) on ``workers`` threads, in the given
    order (put the longest first); returns ``{key: GateResult}``."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(run_gate, **kwargs) for key, kwargs in jobs}
        return {key: future.result() for key, future in futures.items()}


_PLUGIN_NAME = re.compile(r"(?:\[|-)(impl\d*)(?=-|\])")


def plugin_name(test_id: str) -> str | None:
    """``"tests/gate/test_edge_cases.py::test_edge_mse[impl2-float32-cpu-nan]"`` -> ``"impl2"``."""
    params = test_id.partition("[")[2]
    m = _PLUGIN_NAME.search("[" + params) if params else None
    return m.group(1) if m else None


def plugin_names(options) -> dict[str, str]:
    """``--impl`` options -> ``{option: (loss, "impl"/"impl2"...)}`` as the gate names them."""
    seen: dict[str, int] = {}
    out = {}
    for option in options:
        loss = option.partition("=")[0]
        seen[loss] = seen.get(loss, 0) + 1
        out[option] = (loss, "impl" if seen[loss] == 1 else f"impl{seen[loss]}")
    return out


def failures_of(result: GateResult, option: str) -> list[tuple[str, str, str]]:
    """The failures of ``result`` that belong to the plug-in ``option`` (one of its ``--impl`` options)."""
    loss, name = plugin_names(result.impl_options)[option]
    out = []
    for kind, nodeid, msg in result.failures:
        test = nodeid.partition("::")[2]
        if plugin_name(nodeid) == name and (f"_{loss}[" in test or f"[{loss}-" in test or f"[{loss}/" in test
                                              or test.startswith(("test_gate_plugin_loads[" + loss + "-",))):
            out.append((kind, nodeid, msg))
    return out


def kind_of(test_id: str, message: str = "") -> str:
    """The kind of check a test is, as the gate's coverage summary names it (from the test function's
    name); ``"mutation (in agreement)"`` when ``message`` is the input-mutation guard's (every check
    calls the plug-in through it, so a mutation fails whichever check calls it first)."""
    from properties.pytest_plugin import KINDS

    name = test_id.partition("::")[2] or test_id
    kind = next(k for prefix, k in KINDS if name.startswith(prefix))
    mutation = ("InputMutationError", "modified its inputs", "mutates its inputs")
    return f"mutation (in {kind})" if any(m in message for m in mutation) else kind
