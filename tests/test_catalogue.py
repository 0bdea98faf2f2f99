"""The catalogue meta-test: the ``--impl`` gate catches every buggy implementation of
``tests/catalogue`` and passes every correct one.

For each entry the gate runs as a subprocess, exactly as a user runs it::

    python -m pytest -q -p no:cacheprovider --impl LOSS=tests.catalogue.MODULE:ATTR    # a correct entry
    python -m pytest -q -p no:cacheprovider -x -p tests.catalogue.quick_profile \
        --hypothesis-profile catalogue-quick --impl LOSS=tests.catalogue.MODULE:ATTR      # a buggy entry

- a buggy entry must be caught: exit status 1 (findings), its first failure a check of the
  plug-in (not ``test_gate_plugin_loads``: a plug-in that does not load is a broken entry, not a
  caught bug), and not a check that a correct entry of the same loss fails too (then the suite,
  not the bug, failed it).  Buggy entries run with fewer Hypothesis examples (10, not 25:
  ``tests/catalogue/quick_profile.py``; derandomized under ``CI`` like the ``ci`` profile), which
  halves the time spent in the checks they pass before their first failure;
- a correct entry must pass: exit status 0 and the coverage summary lists it with passed tests.
  The correct entries of one loss run together, one gate run per loss with repeated ``--impl``, in
  the inherited profile (the gate names
  the plug-ins of one loss ``impl``, ``impl2`` ... in option order, and each failing test id is
  attributed to its entry by that name);
- exit statuses 2 to 5 (interrupted, internal error, usage error, no tests) and a run past its
  timeout fail the entries of that run, with the tail of the output.

The runs (``tests/catalogue/runner.py``) go two at a time on a thread pool, from one
module-scoped fixture; each entry's test then only reads its result.  The subprocesses inherit
the environment: with ``CI`` set they use the derandomized ``ci`` Hypothesis profile, as the
outer run does.  In a gate run (``--impl``) this module is deselected like every test without a
plug-in subject, so the gate never recurses into itself.
"""

from __future__ import annotations

import re

import pytest

# a checkout's tests (the package `tests`): the gate runs below import tests.catalogue from the repository
# root; installed as lossproof_tests (`lossproof gate`) they skip without importing any other `tests`
if __package__ != "tests":
    pytest.skip("the catalogue meta-test runs in a checkout of lossproof", allow_module_level=True)
from tests.catalogue import CATALOGUE, Entry, impl_option, target  # noqa: E402
from tests.catalogue import quick_profile  # noqa: E402
from tests.catalogue.runner import GateResult, failures_of, kind_of, plugin_name, run_many  # noqa: E402

WORKERS = 2
TIMEOUT_S = 600.0  # per gate run: a buggy entry takes seconds to minutes (dice_plain: ~100 s shrinking a gradient failure), a loss's correct entries up to a few minutes
CORRECT_GROUPS = 13  # gate runs the correct entries are split into (whole losses: one run per loss)
#: buggy entries run with fewer Hypothesis examples (tests/catalogue/quick_profile.py): -x stops at the first
#: failure, and what it costs is the checks passed before it; every buggy entry must still be caught
BUGGY_ARGS = ("-x", *quick_profile.ARGS)

BUGGY = [e for e in CATALOGUE if not e.correct]
CORRECT = [e for e in CATALOGUE if e.correct]


def _groups(entries: list[Entry], n: int) -> list[list[Entry]]:
    """The correct entries in ``n`` groups of whole losses, alternating (similar run times)."""
    losses = list(dict.fromkeys(e.loss for e in entries))
    return [[e for e in entries if e.loss in losses[i::n]] for i in range(n)]


@pytest.fixture(scope="module")
def gate_runs() -> dict[str, GateResult]:
    """``{entry name: the GateResult of the run that checked it}``: every gate run of the module."""
    groups = [g for g in _groups(CORRECT, CORRECT_GROUPS) if g]
    jobs = [(("ok", i), dict(impl_options=[impl_option(e) for e in g], timeout=TIMEOUT_S))
            for i, g in enumerate(groups)]  # the long runs first: the buggy ones fill in around them
    jobs += [(("bug", e.name), dict(impl_options=[impl_option(e)], extra_args=list(BUGGY_ARGS), timeout=TIMEOUT_S))
             for e in BUGGY]
    results = run_many(jobs, workers=WORKERS)
    out = {e.name: results[("ok", i)] for i, g in enumerate(groups) for e in g}
    out.update({e.name: results[("bug", e.name)] for e in BUGGY})
    return out


def _header(entry: Entry, result: GateResult) -> str:
    return (f"catalogue entry {entry.name} ({entry.loss}, {'correct' if entry.correct else 'buggy'}: {entry.bug})\n"
            f"reproduce: {result.command_line}\n"
            f"gate run: {result.describe()} after {result.wall:.1f} s\n")


def _normalized(test_id: str) -> str:
    """A test id with the plug-in name (``impl2``) replaced by ``impl``, to compare runs."""
    return re.sub(r"(?<=[\[-])impl\d*(?=[-\]])", "impl", test_id)


def _correct_failures(gate_runs, loss: str) -> dict[str, str]:
    """``{normalized test id: correct entry}`` for the checks a correct entry of ``loss`` fails."""
    out = {}
    for e in CORRECT:
        if e.loss == loss:
            for _, nodeid, _ in failures_of(gate_runs[e.name], impl_option(e)):
                out[_normalized(nodeid)] = e.name
    return out


@pytest.mark.parametrize("entry", BUGGY, ids=lambda e: e.name)
def test_buggy_entry_is_caught(entry, gate_runs, record_property):
    result = gate_runs[entry.name]
    record_property("gate_wall_s", round(result.wall, 1))
    head = _header(entry, result)
    tail = f"\n--- output (tail) ---\n{result.tail()}"
    assert not result.timed_out, f"{head}the gate did not finish within {TIMEOUT_S:g} s{tail}"
    assert result.returncode != 0, (
        f"{head}NOT CAUGHT: the gate passed this buggy implementation. Expected a {entry.caught_by} check to fail; "
        f"add or strengthen one (or fix the entry if it is not buggy).{tail}")
    assert result.returncode == 1, f"{head}the gate did not run to a finding (not a catch){tail}"
    first = result.first_failed
    assert first is not None, f"{head}exit status 1 but no FAILED/ERROR line to attribute it to{tail}"
    assert not first.partition("::")[2].startswith("test_gate_plugin_loads"), (
        f"{head}the plug-in did not load ({result.first_message}): the entry is broken, its bug untested{tail}")
    assert result.failures[0][0] == "FAILED", f"{head}first failure is an ERROR (setup/teardown): {first}{tail}"
    also = _correct_failures(gate_runs, entry.loss).get(_normalized(first))
    assert also is None, (
        f"{head}caught first by {first}, which the correct entry {also} fails too: that check fails for a reason "
        f"other than this bug (a defect of the suite?), so it cannot tell whether the bug is caught.\n"
        f"message: {result.first_message}{tail}")
    # what the catch was (-rA shows it; --junitxml records it): the check, its kind, the time to it
    record_property("caught_by", first)
    print(f"{entry.name}: caught by {first} ({kind_of(first, result.first_message)}; expected {entry.caught_by}) "
          f"in {result.wall:.1f} s wall")


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e.name)
def test_correct_entry_passes(entry, gate_runs):
    result = gate_runs[entry.name]
    option = impl_option(entry)
    head = _header(entry, result) + (f"(one run for {len(result.impl_options)} correct entries; alone: "
                                     f"python -m pytest -q -p no:cacheprovider --impl {option})\n")
    tail = f"\n--- output (tail) ---\n{result.tail()}"
    assert not result.timed_out, f"{head}the gate did not finish within {TIMEOUT_S:g} s{tail}"
    assert result.returncode in (0, 1), f"{head}the gate did not run{tail}"
    mine = failures_of(result, option)
    lines = "\n".join(f"  {kind} {nodeid} - {msg}" for kind, nodeid, msg in mine)
    assert not mine, f"{head}{len(mine)} check(s) fail this correct implementation:\n{lines}{tail}"
    if result.returncode == 1:
        unattributed = [f for f in result.failures
                        if not any(f in failures_of(result, o) for o in result.impl_options)]
        assert not unattributed, (f"{head}failures that belong to no plug-in of the run (cannot tell whose):\n"
                                  + "\n".join(f"  {k} {n} - {m}" for k, n, m in unattributed) + tail)
    key = f"{entry.loss}={target(entry).replace(':', '.')}"
    coverage = result.coverage()
    assert key in coverage, f"{head}the coverage summary does not list {key}: was it checked at all?{tail}"
    assert any("passed" in line for line in coverage[key]), f"{head}no check passed for {key}: {coverage[key]}{tail}"


def test_catalogue_is_complete():
    """Every loss has at least one correct entry and the ids are unique (the parametrization's ids)."""
    from properties.specs import SPECS

    assert sorted({e.loss for e in CORRECT}) == sorted(SPECS), "a loss without a correct catalogue entry"
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE), "duplicate catalogue entry names"
    assert all(plugin_name(f"t[{impl}-x]") == impl for impl in ("impl", "impl2", "impl12"))
