"""The gate's pytest plugin: ``pytest --impl LOSS=MODULE:ATTR`` (repeatable, or comma-separated
in the environment variable ``LOSSPROOF_IMPL``) checks user implementations with every check
the suite has for their losses -- and nothing else.

- ``pytest_configure`` loads the plug-ins (``properties.plugins``) into the subject registry
  before collection, so every parametrized test is built over them;
- ``pytest_collection_modifyitems`` deselects every test that does not check a plug-in (the
  other losses, the torch built-ins, the reference's own tests);
- ``pytest_terminal_summary`` prints a coverage summary per plug-in: how many tests of each
  kind passed, failed or were skipped, and the skip reasons (parameters it lacks ...).
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
         ("test_bad_input", "bad inputs"), ("test_", "agreement"))


_GATE: dict = {}  # the config of a gate run (set in pytest_configure)

# Hypothesis profiles (select with ``--hypothesis-profile NAME``):
#   default  -- fits the 3-minute budget of a plain ``pytest`` on 2 cores;
#   ci       -- the same size, derandomized (reruns reproduce), prints the reproduce blob;
#               loaded automatically when the environment variable CI is set;
#   nightly  -- 20x the examples, for a scheduled job.
_common = dict(
    deadline=None,  # the first torch call of a process is slow; timing is not what we test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, **_common)
settings.register_profile("nightly", max_examples=500, **_common)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_addoption(parser):
    group = parser.getgroup("lossproof")
    group.addoption("--impl", action="append", default=[], metavar="LOSS=MODULE:ATTR",
                    help="check this implementation of LOSS (a function or an nn.Module class) with every check "
                         "of the suite, and nothing else; repeatable (also: env LOSSPROOF_IMPL, comma-separated)")
    group.addoption("--impl-timeout", type=float, default=None, metavar="SECONDS",
                    help="per-call timeout for a plug-in (default 20; env LOSSPROOF_TIMEOUT)")


def pytest_configure(config):
    from . import plugins, subjects

    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped when torch.cuda.is_available() is False)")
    config.addinivalue_line("markers", "mpmath: checks a reference against mpmath (skipped without mpmath)")
    from .specs import SPECS

    values = list(config.getoption("impl") or [])
    if os.environ.get(plugins.ENV):
        values.append(os.environ[plugins.ENV])
    if config.getoption("impl_timeout") is not None:
        os.environ["LOSSPROOF_TIMEOUT"] = str(config.getoption("impl_timeout"))
    if not values:
        _GATE.clear()
        subjects.configure(None)
        return
    try:
        wanted = plugins.parse(values, list(SPECS))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    subjects.configure(plugins.load_all(wanted))
    config._lossproof_coverage = defaultdict(lambda: defaultdict(Counter))
    config._lossproof_items = {}
    _GATE["config"] = config


def _plugin_subject(item):
    subject = getattr(item, "callspec", None) and item.callspec.params.get("subject")
    return subject if getattr(subject, "origin", None) == "plugin" else None


def pytest_collection_modifyitems(session, config, items):
    from .subjects import gate_mode

    if not gate_mode():
        return
    keep, drop = [], []
    for item in items:
        subject = _plugin_subject(item)
        (keep if subject is not None else drop).append(item)
        if subject is not None:
            kind = next(k for prefix, k in KINDS if item.originalname.startswith(prefix))
            config._lossproof_items[item.nodeid] = (f"{subject.loss}={subject.qualname}", kind)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_runtest_logreport(report):
    config = _GATE.get("config")
    if config is None or report.nodeid not in config._lossproof_items:
        return
    if report.when == "call" or report.outcome != "passed":
        key, kind = config._lossproof_items[report.nodeid]
        outcome = "skipped" if report.skipped and not hasattr(report, "wasxfail") else report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "allowed deviation"
        config._lossproof_coverage[key][kind][outcome] += 1
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = re.sub(r"^Skipped: ", "", report.longrepr[2])
            config._lossproof_coverage[key]["skip: " + reason]["n"] += 1


def pytest_terminal_summary(terminalreporter, config):
    coverage = getattr(config, "_lossproof_coverage", None)
    if not coverage:
        return
    tr = terminalreporter
    tr.section("lossproof gate coverage (what was checked, what was not and why)")
    for key, kinds in coverage.items():
        tr.write_line(key)
        for kind, counts in kinds.items():
            if kind.startswith("skip: "):
                continue
            tr.write_line(f"  {kind:<12} " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
        skips = [(k[6:], c["n"]) for k, c in kinds.items() if k.startswith("skip: ")]
        for reason, n in sorted(skips, key=lambda s: -s[1]):
            tr.write_line(f"  not checked ({n} tests): {reason}")
