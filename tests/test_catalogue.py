"""The catalogue meta-test: the ``--impl`` gate catches every buggy implementation of
``tests/catalogue`` and passes every correct one.

The gate runs as a subprocess, exactly as a user runs it, once per loss with every entry of that
loss as a plug-in (repeated ``--impl``) and ``--first-finding``::

    python -m pytest -q -p no:cacheprovider --first-finding \
        --impl mse=tests.catalogue.regression:mse_loss --impl mse=tests.catalogue.regression:mse_mean_over_batch ...

- a buggy entry must be caught: the run ends with findings (exit status 1), and the entry's first
  failing test is a check of the plug-in (not ``test_gate_plugin_loads``: a plug-in that does not
  load is a broken entry, not a caught bug) that no correct entry of the same loss fails too (else
  the suite, not the bug, failed it).  ``--first-finding`` stops checking an entry after its first
  finding, so a buggy entry costs what ``-x`` cost it alone, without an interpreter of its own;
- a correct entry must pass: no failing test and no ``INCOMPLETE`` line of its own, and the
  coverage summary lists it with passed tests;
- the gate names the plug-ins of one loss ``impl``, ``impl2`` ... in option order, and each failing
  test id is attributed to its entry by that name (``runner.failures_of``);
- exit statuses 2 to 5 (interrupted, internal error, usage error, no tests) and a run past its
  timeout fail the entries of that run, with the tail of the output.

Every entry runs in the inherited profile (``CI=1``: the derandomized ``ci`` profile, as the outer
run) without shrinking (``quick_profile.DETECT``: whether and by which test an entry is caught does not
depend on its minimal example; shrinking was half a buggy entry's time to its catch).  The runs (``tests/catalogue/runner.py``) go two at a time on a thread pool, from one
module-scoped fixture; each entry's test then only reads its result.  In a gate run (``--impl``)
this module is deselected like every test without a plug-in subject, so the gate never recurses
into itself.
"""

from __future__ import annotations

import re

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

# a checkout's tests (the package `tests`): the gate runs below import tests.catalogue from the repository
# root; installed as lossproof_tests (`lossproof gate`) they skip without importing any other `tests`
if __package__ != "tests":
    pytest.skip("the catalogue meta-test runs in a checkout of lossproof", allow_module_level=True)
from tests.catalogue import CATALOGUE, Entry, impl_option, quick_profile, target  # noqa: E402
from tests.catalogue.runner import GateResult, failures_of, kind_of, plugin_name, plugin_names, run_many  # noqa: E402

WORKERS = 2
TIMEOUT_S = 1500.0  # per gate run (one loss, all its entries): cross-entropy ~10 min on 2 busy cores (12 variants, crossed edge rows, placement)
#: per run: an entry is dropped after its first finding (a buggy entry's catch), the others go on
RUN_ARGS = ("--first-finding", *quick_profile.DETECT_ARGS)

BUGGY = [e for e in CATALOGUE if not e.correct]
CORRECT = [e for e in CATALOGUE if e.correct]
#: the losses, the one with the most entries first (the long runs first: the short ones fill in around them)
LOSSES = sorted(dict.fromkeys(e.loss for e in CATALOGUE), key=lambda loss: -sum(e.loss == loss for e in CATALOGUE))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, str]:
    """``{loss: the file its gate run records every plug-in call to}`` (``--record``, properties.recording)."""
    where = tmp_path_factory.mktemp("calls")
    return {loss: str(where / f"{loss}.jsonl") for loss in LOSSES}


@pytest.fixture(scope="module")
def gate_runs(recordings) -> dict[str, GateResult]:
    """``{entry name: the GateResult of the run that checked it}``: one gate run per loss."""
    jobs = [(loss, dict(impl_options=[impl_option(e) for e in CATALOGUE if e.loss == loss],
                        extra_args=[*RUN_ARGS, f"--record={recordings[loss]}"], timeout=TIMEOUT_S)) for loss in LOSSES]
    results = run_many(jobs, workers=WORKERS)
    return {e.name: results[e.loss] for e in CATALOGUE}


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
    option = impl_option(entry)
    head = _header(entry, result)
    tail = f"\n--- output (tail) ---\n{result.tail()}"
    assert not result.timed_out, f"{head}the gate did not finish within {TIMEOUT_S:g} s{tail}"
    assert result.returncode == 1, f"{head}the gate did not run to findings (exit 1){tail}"
    mine = failures_of(result, option)
    assert mine, (
        f"{head}NOT CAUGHT: the gate passed this buggy implementation. Expected a {entry.caught_by} check to fail; "
        f"add or strengthen one (or fix the entry if it is not buggy).{tail}")
    kind, first, message = mine[0]
    assert not first.partition("::")[2].startswith("test_gate_plugin_loads"), (
        f"{head}the plug-in did not load ({message}): the entry is broken, its bug untested{tail}")
    assert kind == "FAILED", f"{head}first failure is an ERROR (setup/teardown): {first}{tail}"
    also = _correct_failures(gate_runs, entry.loss).get(_normalized(first))
    assert also is None, (
        f"{head}caught first by {first}, which the correct entry {also} fails too: that check fails for a reason "
        f"other than this bug (a defect of the suite?), so it cannot tell whether the bug is caught.\n"
        f"message: {message}{tail}")
    # what the catch was (-rA shows it; --junitxml records it): the check and its kind
    record_property("caught_by", first)
    print(f"{entry.name}: caught by {first} ({kind_of(first, message)}; expected {entry.caught_by})")


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e.name)
def test_correct_entry_passes(entry, gate_runs):
    result = gate_runs[entry.name]
    option = impl_option(entry)
    head = _header(entry, result) + (f"(one run for the {len(result.impl_options)} entries of {entry.loss}; alone: "
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
    incomplete = [ln for ln in result.output.splitlines() if ln.startswith(f"INCOMPLETE {key}:")]
    assert not incomplete, f"{head}a check family checked no example of it:\n" + "\n".join(incomplete) + tail
    coverage = result.coverage()
    assert key in coverage, f"{head}the coverage summary does not list {key}: was it checked at all?{tail}"
    assert any("passed" in line for line in coverage[key]), f"{head}no check passed for {key}: {coverage[key]}{tail}"


@pytest.mark.parametrize("loss", LOSSES)
def test_every_region_is_reached(loss, gate_runs, recordings):
    """What the gate fed the correct entries of ``loss`` -- every call recorded (``--record``,
    properties.recording) -- reaches every region where real bugs live that applies to the loss
    (``properties.recording.unreached``): non-contiguous and stride-0 layouts of every tensor argument,
    every edge condition under every parameter set, long reductions in every dtype, per-element
    cotangents, every differentiable argument differentiated, near-coincident inputs, broadcast shapes
    where the contract broadcasts, the cpu and meta devices."""
    from properties.broadcast import BROADCASTS
    from properties.recording import read, unreached
    from properties.specs import SPECS
    from refimpl.grad import DIFFERENTIABLE

    options = [impl_option(e) for e in CATALOGUE if e.loss == loss]
    result = gate_runs[next(e.name for e in CORRECT if e.loss == loss)]
    names = {plugin_names(result.impl_options)[impl_option(e)][1] for e in CORRECT if e.loss == loss}
    records = [r for r in read(recordings[loss]) if r.get("plugin") in names]
    assert len(options) == len(result.impl_options)
    missing = unreached(SPECS[loss], records, differentiable=DIFFERENTIABLE[loss], broadcasts=loss in BROADCASTS,
                        devices=("cpu", "meta"))
    assert not missing, (f"the gate's calls of the correct {loss} entries ({len(records)} recorded) never reach:\n  "
                         + "\n  ".join(missing))


def test_catalogue_is_complete():
    """Every loss has at least one correct entry and the ids are unique (the parametrization's ids)."""
    from properties.specs import SPECS

    assert sorted({e.loss for e in CORRECT}) == sorted(SPECS), "a loss without a correct catalogue entry"
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE), "duplicate catalogue entry names"
    assert all(plugin_name(f"t[{impl}-x]") == impl for impl in ("impl", "impl2", "impl12"))
