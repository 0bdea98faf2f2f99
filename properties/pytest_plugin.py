"""The gate's pytest plugin: ``pytest --impl LOSS=MODULE:ATTR`` (repeatable, or comma-separated
in the environment variable ``LOSSPROOF_IMPL``) checks user implementations with every check
the suite has for their losses -- and nothing else.

- ``pytest_configure`` loads the plug-ins (``properties.plugins``) into the subject registry
  before collection, so every parametrized test is built over them;
- ``pytest_collection_modifyitems`` deselects every test that does not check a plug-in (the
  other losses, the torch built-ins, the reference's own tests);
- each test of a plug-in counts the calls it made of it (``properties.tally``); an example the
  plug-in cannot take is rejected, not the test, and a test none of whose examples fit ends as
  *not applicable* (``properties.fit``);
- ``pytest_terminal_summary`` prints the findings, grouped by cause (``properties.findings``: one
  line each, then the detail once per check family), and a coverage summary per plug-in: per check
  family, tests and calls, outcomes, and why anything was not checked;
- ``pytest_sessionfinish`` sets the gate's exit status: 0 conforms, 1 findings, 3 harness error
  (the suite failed, not the plug-in), 6 incomplete (a check family made no call of a plug-in).

Options: ``--dtype`` / ``--device`` select for every check family; ``--first-finding`` stops
checking a plug-in after its first finding; without ``--tb`` a gate run prints no tracebacks, only
the findings (``--tb=short`` etc. give pytest's full report as well).
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, settings

#: test-function name prefix -> the kind of check, for the coverage summary
KINDS = (("test_gate_", "contract"), ("test_edge_", "edge cases"), ("test_invariant_", "invariants"),
         ("test_gradcheck_", "gradients"), ("test_gradient", "gradients"), ("test_subgradient", "gradients"),
         ("test_bad_input", "bad inputs"), ("test_placement_", "placement"), ("test_", "agreement"))


_GATE: dict = {}  # the config of a gate run (set in pytest_configure)

#: the gate's exit statuses beyond pytest's (pytest: 0 passed, 1 failed, 2 interrupted, 4 usage, 5 nothing)
EXIT_CONFORMS, EXIT_FINDINGS, EXIT_HARNESS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 3, 4, 6
#: the check families whose calls are counted: a gate run where one made no call is incomplete
FAMILIES = ("agreement", "gradients", "invariants", "edge cases", "bad inputs")

# Hypothesis profiles (select with ``--hypothesis-profile NAME``):
#   default  -- fits the 3-minute budget of a plain ``pytest`` on 2 cores;
#   ci       -- the same size, derandomized (reruns reproduce), prints the reproduce blob, no
#               example database (a CI job starts from a clean clone, and a derandomized run
#               reproduces without one; with a database and ``hypothesis.target`` Hypothesis keeps
#               a Pareto front of targeted examples, ~20% of a gate run's time); loaded
#               automatically when the environment variable CI is set;
#   nightly  -- 20x the examples, for a scheduled job.
_common = dict(
    deadline=None,  # the first torch call of a process is slow; timing is not what we test
    # filter_too_much: an example an implementation cannot take (an adapter's domain, a plug-in's lacking
    # parameter) is rejected, not the test (properties.fit); a test none of whose examples fits is a skip
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_common)
settings.register_profile("nightly", max_examples=500, **_common)
settings.load_profile("ci" if os.environ.get("CI") else "default")



def pytest_addoption(parser):
    group = parser.getgroup("lossproof")
    group.addoption("--impl", action="append", default=[], metavar="LOSS=MODULE:ATTR",
                    help="check this implementation of LOSS (a function or an nn.Module class) with every check "
                         "of the suite, and nothing else; repeatable (also: env LOSSPROOF_IMPL, comma-separated)")
    group.addoption("--convention", action="append", default=[], metavar="LOSS=NAME[=VALUE]",
                    help="the plug-ins of LOSS follow this declared convention or API limit (properties.conventions: "
                         "empty_mean=zero, clip=EPS, compute_dtype=DTYPE, targets=01, fixed:PARAM=VALUE, targets=index, "
                         "targets=probability, batch=required, label_smoothing<1, tied:A=B); repeatable (also: "
                         "attribute lossproof_conventions, [tool.lossproof] conventions in ./pyproject.toml)")
    group.addoption("--impl-timeout", type=float, default=None, metavar="SECONDS",
                    help="per-call timeout for a plug-in (default 20; env LOSSPROOF_TIMEOUT)")
    group.addoption("--dtype", action="append", default=[], metavar="DTYPE",
                    help="check only in DTYPE (float64, float32, float16, bfloat16), in every check family; repeatable")
    group.addoption("--device", action="append", default=[], metavar="DEVICE",
                    help="check only on DEVICE (cpu, cuda, meta: the placement check), in every check family; repeatable")
    group.addoption("--first-finding", action="store_true", default=False,
                    help="stop checking a plug-in after its first finding (the others go on)")
    group.addoption("--shrink-all", action="store_true", default=False,
                    help="shrink every failing test to its minimal example (default: only the first failure of "
                         "each plug-in in each check family; later ones are reported as first found)")
    group.addoption("--record", default=None, metavar="FILE",
                    help="append a description of every call of a plug-in (layouts, edge conditions, sizes, "
                         "cotangents, ...; never the values) to FILE as JSON lines (lossproof coverage --record)")
    group.addoption("--example-database", default=None, metavar="DIR|off",
                    help="where Hypothesis keeps failing examples to replay them first in the next run (default: "
                         ".hypothesis/ in the current directory; the ci profile keeps none); 'off' for none")


@pytest.hookimpl(trylast=True)  # after Hypothesis's plugin has loaded --hypothesis-profile
def pytest_configure(config):
    from . import plugins, subjects, tally

    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped when torch.cuda.is_available() is False)")
    config.addinivalue_line("markers", "mpmath: checks a reference against mpmath (skipped without mpmath)")
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist --dist loadgroup runs the group on one worker")
    from .formats import DTYPE_NAMES
    from .specs import SPECS

    for option, allowed in (("dtype", DTYPE_NAMES), ("device", ("cpu", "cuda", "meta"))):
        bad = [v for v in config.getoption(option) if v not in allowed]
        if bad:
            raise pytest.UsageError(f"--{option} {bad[0]!r}: one of {', '.join(allowed)}")
    values = list(config.getoption("impl") or [])
    if os.environ.get(plugins.ENV):
        values.append(os.environ[plugins.ENV])
    if config.getoption("impl_timeout") is not None:
        os.environ["LOSSPROOF_TIMEOUT"] = str(config.getoption("impl_timeout"))
    _example_database(config.getoption("example_database"))
    if not values and config.getoption("convention"):
        raise pytest.UsageError("--convention declares a convention of a plug-in: name it with --impl LOSS=MODULE:ATTR")
    if not values:
        _GATE.clear()
        subjects.configure(None)
        return
    try:
        wanted = plugins.parse(values, list(SPECS))
        loaded = plugins.load_all(wanted, config.getoption("convention") or [])  # ValueError: a bad convention
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("record"):
        from .recording import Recorder

        recorder = Recorder(config.getoption("record"))
        loaded = {loss: [recorder.wrap(s) for s in subs] for loss, subs in loaded.items()}
    subjects.configure(loaded)
    tally.reset()
    # a partial plug-in rejects the examples it cannot take: many may be rejected, never the test
    current = settings()
    settings.register_profile("lossproof-gate", parent=current,
                              suppress_health_check=[*current.suppress_health_check, HealthCheck.filter_too_much])
    settings.load_profile("lossproof-gate")
    if config.option.tbstyle == "auto":  # concise by default: the findings, not the tracebacks
        config.option.tbstyle = "no"
        config.option.disable_warnings = True
        given = [*config.invocation_params.args, *config.getini("addopts")]
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not any(str(a).startswith("-r") for a in given):
            reporter.reportchars = ""  # no "FAILED id" line per test (one line per finding), no warnings summary
    config._lossproof = GateRun()
    _GATE["config"] = config


def _example_database(where: str | None) -> None:
    """``--example-database``: the loaded Hypothesis profile with its example database replaced
    (``off``: none, so a run neither replays nor writes examples -- nor keeps the Pareto front of
    targeted examples that costs ~20% of a gate run)."""
    if where is None:
        return
    from hypothesis.database import DirectoryBasedExampleDatabase

    database = None if where.lower() in ("off", "none", "") else DirectoryBasedExampleDatabase(where)
    settings.register_profile("lossproof-database", parent=settings(), database=database)
    settings.load_profile("lossproof-database")


class GateRun:
    """What a gate run records: each plug-in test's key, family and parameters, its outcome and
    calls, the failures (findings or harness errors) and the allowed deviations."""

    def __init__(self):
        self.items: dict[str, tuple[str, str, dict]] = {}  # nodeid -> (plug-in key, family, params)
        self.outcomes: dict[str, str] = {}
        self.skips: dict[str, str] = {}  # nodeid -> reason
        self.failures: list = []  # findings.Failure
        self.harness: list[tuple[str, str]] = []  # (nodeid or module, one-line diagnosis)
        self.allowed: dict[str, str] = {}  # nodeid -> recorded deviation excusing it
        self.found: set[str] = set()  # plug-in keys with a finding (--first-finding; per worker under -n)
        self.failed_families: set[tuple[str, str]] = set()  # (plug-in key, family) with a failure: no more shrinking
        self.unshrunk: set[str] = set()  # node ids run without shrinking

    def export(self) -> dict:
        """What a pytest-xdist worker sends its controller (plain data: execnet serializes it)."""
        from . import tally

        return {"items": {k: list(v) for k, v in self.items.items()}, "outcomes": self.outcomes,
                "skips": self.skips, "allowed": self.allowed, "harness": [list(h) for h in self.harness],
                "failures": [[f.nodeid, f.family, f.params, f.message, f.worst, f.shrunk] for f in self.failures],
                "calls": dict(tally.CALLS), "examples": dict(tally.EXAMPLES),
                "rejected": {k: dict(v) for k, v in tally.REJECTED.items()}}

    def merge(self, data: dict) -> None:
        """Add a worker's :meth:`export` (the controller collects and runs nothing itself)."""
        from . import tally
        from .findings import Failure

        self.items.update({k: tuple(v) for k, v in data["items"].items()})
        self.outcomes.update(data["outcomes"])
        self.skips.update(data["skips"])
        self.allowed.update(data["allowed"])
        self.harness += [tuple(h) for h in data["harness"] if tuple(h) not in self.harness]  # collection errors: every worker
        self.failures += [Failure(*f) for f in data["failures"]]
        tally.CALLS.update(data["calls"])
        tally.EXAMPLES.update(data["examples"])
        for nodeid, reasons in data["rejected"].items():
            tally.REJECTED[nodeid].update(reasons)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist (``-n``): a worker finished; merge what its gate run recorded into the controller's,
    which gives the findings, the coverage summary and the exit status of the whole run."""
    config = _GATE.get("config")
    data = getattr(node, "workeroutput", {}).get("lossproof_gate")
    if config is not None and data:
        config._lossproof.merge(data)


def _plugin_subject(item):
    subject = getattr(item, "callspec", None) and item.callspec.params.get("subject")
    return subject if getattr(subject, "origin", None) == "plugin" else None


def _item_params(item, kind) -> dict:
    """The parameters a finding can be confined to, read from the test's parametrization."""
    params = dict(getattr(item, "callspec", None).params) if getattr(item, "callspec", None) else {}
    out = {k: params[k] for k in ("dtype", "device", "reduction", "variant") if isinstance(params.get(k), str)}
    row = params.get("row") or params.get("inv")
    if row is not None:
        out["row"] = getattr(row, "id", getattr(row, "name", str(row)))
    if "dtype" not in out and "gradcheck" in item.originalname:
        out["dtype"] = "float64"  # gradcheck runs in float64 (its id says so)
    return out  # bad inputs have no dtype: a refusal does not depend on it, and --dtype keeps them


def pytest_collection_modifyitems(session, config, items):
    from .subjects import gate_mode

    dtypes, devices = set(config.getoption("dtype")), set(config.getoption("device"))
    keep, drop = [], []
    for item in items:
        subject = _plugin_subject(item)
        kind = _kind(item)
        params = _item_params(item, kind)
        selected = subject is not None or not gate_mode()
        if dtypes and "dtype" in params and params["dtype"] not in dtypes:
            selected = False
        if devices and params.get("device", "cpu") not in devices:
            selected = False
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = _round_robin(keep) if gate_mode() else keep


#: the order a plug-in's check families take their turns in (``_round_robin``); the contract (does it load,
#: does it take the declared limits) before any of them
ROUND_ORDER = ("contract", "agreement", "gradients", "edge cases", "invariants", "bad inputs", "placement")


def _round_robin(items: list) -> list:
    """A gate run's items in turns: every check family's first test of a plug-in, then every family's
    second, ... (within a family float64 first -- ``DTYPE_NAMES``' order, where a bug shows most plainly
    and costs least -- then the CPU, then collection order) -- not one family's tests all before the next
    family's.  A bug that only one family catches (a gradient, a layout, a placement) is then found after
    a few tests of the others, not after all of them: what a user waits for, and what a buggy catalogue
    entry costs the meta-test under ``--first-finding``.  A non-plug-in item keeps its place ahead (a gate
    run selects none)."""
    from .formats import DTYPE_NAMES

    def within_family(i):
        params = _item_params(items[i], _kind(items[i]))
        dtype = params.get("dtype")
        rank = DTYPE_NAMES.index(dtype) if dtype in DTYPE_NAMES else len(DTYPE_NAMES)
        return rank, params.get("device", "cpu") != "cpu", i

    turns: Counter = Counter()
    keyed = []
    for i in sorted(range(len(items)), key=within_family):
        subject, kind = _plugin_subject(items[i]), _kind(items[i])
        if subject is None:
            keyed.append(((-1, 0, i), items[i]))
            continue
        turn = -1 if kind == "contract" else turns[(subject.loss, subject.qualname, kind)]
        turns[(subject.loss, subject.qualname, kind)] += 1
        keyed.append(((turn, ROUND_ORDER.index(kind), i), items[i]))
    return [item for _, item in sorted(keyed, key=lambda pair: pair[0])]


def _kind(item) -> str:
    return next(k for prefix, k in KINDS if item.originalname.startswith(prefix))


def pytest_collection_finish(session):
    """Record the plug-in tests that will run (after every deselection: ``-k``, ``--dtype`` ...)."""
    run = getattr(session.config, "_lossproof", None)
    if run is None:
        return
    for item in session.items:
        subject = _plugin_subject(item)
        if subject is not None:
            kind = _kind(item)
            run.items[item.nodeid] = (f"{subject.loss}={subject.qualname}", kind, _item_params(item, kind))


def pytest_collectreport(report):
    config = _GATE.get("config")
    if config is not None and report.failed:
        config._lossproof.harness.append((report.nodeid or "collection", _one_line(report.longreprtext)))


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ")]
    return (errors[-1][1:].strip() if errors else lines[-1] if lines else "")[:300]


def pytest_runtest_setup(item):
    config = _GATE.get("config")
    if config is None or not config.getoption("first_finding") or item.nodeid not in config._lossproof.items:
        return
    key = config._lossproof.items[item.nodeid][0]
    if key in config._lossproof.found:
        pytest.skip(f"--first-finding: {key} already has a finding")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    from hypothesis.errors import Unsatisfiable

    from . import tally

    tally.CURRENT = item.nodeid
    hyp = getattr(item.obj, "hypothesis", None)  # count the examples: wrap Hypothesis's inner test
    inner = getattr(hyp, "inner_test", None)
    if inner is not None:
        hyp.inner_test = tally.counting(item.nodeid, inner)
    # Hypothesis's pytest plugin gives each parametrized call settings whose parent is the function's
    # current ones (_hypothesis_pytestplugin.pytest_runtest_call), never undone: one parent per call of
    # the same function, a chain past Python's recursion limit after ~1000 calls in one process (a gate
    # run of ten cross-entropy plug-ins: RecursionError in Hypothesis's settings.database).  Put back what
    # the function had before this call.
    fn = getattr(item.obj, "__func__", item.obj)
    own = getattr(fn, "_hypothesis_internal_use_settings", None)
    restore = _without_shrinking(item)
    try:
        if inner is None:
            return (yield from _counted_plain(item))
        return (yield)
    except Unsatisfiable:
        # every example needed something the plug-in lacks: not applicable, and not a pass
        reasons = tally.REJECTED.get(item.nodeid)
        if not reasons or tally.EXAMPLES[item.nodeid]:
            raise
        pytest.skip(max(reasons, key=reasons.get))
    finally:
        tally.CURRENT = ""
        if inner is not None:
            hyp.inner_test = inner
        if restore is not None:
            item.obj._hypothesis_internal_use_settings = restore
        if own is not None:
            fn._hypothesis_internal_use_settings = own


def _without_shrinking(item):
    """In a gate run, a test of a plug-in that already failed a test of the same check family runs
    without Hypothesis's shrink (and explain) phases -- its finding has its minimal example, and
    shrinking each further failure cost most of a buggy plug-in's run (3-30 s a test) -- unless
    ``--shrink-all``.  Returns the settings to restore after the test, or None."""
    config = _GATE.get("config")
    if config is None or config.getoption("shrink_all") or item.nodeid not in config._lossproof.items:
        return None
    run: GateRun = config._lossproof
    key, kind, _ = run.items[item.nodeid]
    current = getattr(item.obj, "_hypothesis_internal_use_settings", None)
    if (key, kind) not in run.failed_families or current is None:
        return None
    from hypothesis import Phase

    phases = [p for p in current.phases if p not in (Phase.shrink, Phase.explain)]
    if len(phases) == len(current.phases):
        return None
    item.obj._hypothesis_internal_use_settings = settings(current, phases=phases)
    run.unshrunk.add(item.nodeid)
    return current


def _counted_plain(item):
    """A test without Hypothesis is one example when it calls the implementation."""
    from . import tally

    before = tally.CALLS[item.nodeid]
    try:
        return (yield)
    finally:
        if tally.CALLS[item.nodeid] > before:
            tally.EXAMPLES[item.nodeid] += 1


_FINDING_TYPES = ("AssertionError", "GradcheckError", "Failed")


def _is_finding(exc: BaseException) -> bool:
    """A check's failure (an AssertionError subclass, gradcheck's GradcheckError, pytest.fail) --
    not an error of the harness.  An exception group is a finding only if all its members are."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_finding(e) for e in exc.exceptions)
    return any(c.__name__ in _FINDING_TYPES for c in type(exc).__mro__)


def _message(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "\n\n".join(_message(e) for e in exc.exceptions)
    notes = "\n".join(getattr(exc, "__notes__", ()) or ())
    return f"{exc}\n{notes}".strip() if str(exc) else f"{type(exc).__name__}\n{notes}".strip()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    from .known import AllowedDeviation

    if call.excinfo is not None and isinstance(call.excinfo.value, AllowedDeviation):  # an xfail, as pytest.xfail's
        report.outcome, report.wasxfail = "skipped", call.excinfo.value.msg
    config = _GATE.get("config")
    if config is None or item.nodeid not in config._lossproof.items:
        return report
    run: GateRun = config._lossproof
    key, kind, params = run.items[item.nodeid]
    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        if call.when == "call" and _is_finding(exc):
            from . import tally
            from .findings import Failure

            worst = tally.WORST.get(item.nodeid)
            run.failures.append(Failure(item.nodeid, kind, params, _message(exc), worst[1]() if worst else "",
                                        shrunk=item.nodeid not in run.unshrunk))
            run.found.add(key)
            run.failed_families.add((key, kind))
        else:
            from .findings import diagnosis_of

            run.harness.append((item.nodeid, f"{type(exc).__name__}: {diagnosis_of(str(exc))[:300]}"))
    return report


def pytest_runtest_logreport(report):
    config = _GATE.get("config")
    if config is None or report.nodeid not in config._lossproof.items:
        return
    run: GateRun = config._lossproof
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail"):
            run.outcomes[report.nodeid] = "allowed deviation"
            run.allowed[report.nodeid] = report.wasxfail
        elif report.skipped:
            run.outcomes[report.nodeid] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            run.skips[report.nodeid] = re.sub(r"^Skipped: ", "", reason)
        elif report.failed and report.when != "call":
            run.outcomes[report.nodeid] = "error"
        else:
            run.outcomes.setdefault(report.nodeid, report.outcome)
            if report.failed:
                run.outcomes[report.nodeid] = "failed"


def _tally(run: GateRun):
    """``{plug-in: {family: {"tests": n, "calls": n, outcome: n, ...}}}`` and skip reasons per plug-in."""
    from . import tally

    table: dict = defaultdict(lambda: defaultdict(Counter))
    skips: dict = defaultdict(Counter)
    for nodeid, (key, kind, _) in run.items.items():
        outcome = run.outcomes.get(nodeid, "not run")
        cell = table[key][kind]
        cell[outcome] += 1
        cell["calls"] += tally.CALLS.get(nodeid, 0)
        cell["examples"] += tally.EXAMPLES.get(nodeid, 0)
        if outcome == "skipped":
            skips[key][run.skips.get(nodeid, "")] += 1
        elif outcome != "not run":
            cell["tests"] += 1
    return table, skips


def incomplete(run: GateRun) -> list[str]:
    """Plug-in check families that ran tests but made no call of the plug-in (the gate cannot pass them)."""
    table, _ = _tally(run)
    out = []
    for key, kinds in table.items():
        for family in FAMILIES:
            cell = kinds.get(family)
            # a family none of whose tests applies (every one needs a parameter value the plug-in
            # lacks) is "not applicable"; one whose tests ran without an example is no verdict
            if cell is not None and cell["examples"] == 0 and (cell["tests"] or family == "agreement"):
                out.append(f"{key}: {family} checked no example ({cell['tests']} tests ran, "
                           f"{cell['skipped']} not applicable or skipped)")
    return out


def pytest_sessionfinish(session, exitstatus):
    config = _GATE.get("config")
    if config is not None and hasattr(session.config, "workerinput"):  # a pytest-xdist worker: to the controller
        session.config.workeroutput["lossproof_gate"] = config._lossproof.export()
        return
    if config is None or int(exitstatus) in (2, 4, 5) and not config._lossproof.harness:
        return
    run: GateRun = config._lossproof
    if config.option.collectonly or config.option.setuponly or config.option.setupplan:
        return  # nothing was meant to run: no verdict to give (lossproof gate: a usage error)
    if run.harness:
        session.exitstatus = EXIT_HARNESS
    elif run.failures or int(exitstatus) == 1:
        session.exitstatus = EXIT_FINDINGS
    elif incomplete(run):
        session.exitstatus = EXIT_INCOMPLETE
    else:
        session.exitstatus = EXIT_CONFORMS if int(exitstatus) == 0 else exitstatus


def pytest_terminal_summary(terminalreporter, config):
    run = getattr(config, "_lossproof", None)
    if run is None or not run.items:
        return
    from .findings import detail, group

    tr = terminalreporter
    tested: dict[str, set] = defaultdict(set)  # the values each parameter took in tests that ran
    for nodeid, (_, _, params) in run.items.items():
        if run.outcomes.get(nodeid) in ("passed", "failed", "allowed deviation"):
            for k, v in params.items():
                tested[k].add(v)
    findings = group(run.failures, plugin_of=lambda f: run.items[f.nodeid][0])
    from . import tally

    if findings:
        tr.section(f"lossproof findings ({len(findings)}: one per cause; the detail below, once per check family)")
        for i, finding in enumerate(findings, 1):
            examples = sum(tally.EXAMPLES.get(f.nodeid, 0) for f in finding.failures)
            tr.write_line(finding.line(i, tested, examples))
        for i, finding in enumerate(findings, 1):
            tr.write_sep("-", f"FINDING {i}: {finding.cause}")
            for ln in detail(finding):
                tr.write_line(ln)
    if run.harness:
        tr.section("lossproof harness errors (the suite failed, not the implementation: no verdict)")
        for where, why in run.harness:
            tr.write_line(f"HARNESS ERROR {where}: {why}")
    table, skips = _tally(run)
    tr.section("lossproof gate coverage (what was checked, what was not and why)")
    from .conventions import describe
    from .subjects import plugin_subjects

    declared = {f"{s.loss}={s.qualname}": s.declared for s in plugin_subjects() if s.declared}
    for key, kinds in table.items():
        tr.write_line(key)
        if key in declared:  # what the checks assumed: compared under these, not the contract's
            tr.write_line(f"  conventions declared: {describe(declared[key])}")
        for kind, counts in kinds.items():
            outcomes = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()) if o not in ("calls", "tests", "examples"))
            tr.write_line(f"  {kind:<12} {counts['examples']:>5} examples ({counts['calls']} calls) in "
                          f"{counts['tests']} tests; {outcomes}")
        for reason, n in sorted(skips[key].items(), key=lambda s: -s[1]):
            tr.write_line(f"  not checked ({n} tests): {reason}")
        allowed = Counter(reason for nodeid, reason in run.allowed.items() if run.items[nodeid][0] == key)
        for reason, n in allowed.most_common():
            tr.write_line(f"  allowed ({n} tests): {reason}")
    for line in incomplete(run):
        tr.write_line(f"INCOMPLETE {line}: no verdict (exit status {EXIT_INCOMPLETE})", red=True)
    verdict = ("harness error" if run.harness else "findings" if run.failures else
               "incomplete" if incomplete(run) else "conforms")
    tr.write_line(f"lossproof verdict: {verdict} on {', '.join(devices_checked(run)) or 'no device'}")


def devices_checked(run: GateRun) -> list[str]:
    """The devices a plug-in test ran on (passed or failed: a test skipped or not applicable on a
    device, ``cuda`` without a GPU or ``meta`` for a plug-in that reads values, checked nothing
    there), cpu first, then cuda, then meta (the placement check, ``properties.placement``)."""
    order = {"cpu": 0, "cuda": 1, "meta": 2}
    ran = {p.get("device", "cpu") for nodeid, (_, _, p) in run.items.items()
           if run.outcomes.get(nodeid) in ("passed", "failed")}
    return sorted(ran, key=lambda d: (order.get(d, 3), d))
