"""Every region of the input space where real bugs live (``tests.catalogue.REGIONS``: layouts of every
argument, edge condition x parameter variant, long reductions, random cotangents, every differentiated
argument, near-coincident inputs, broadcasting, device placement) has a catalogue entry modelled on a
real bug report, and the default profile catches it in *every* run, not by luck: five gate runs, one
per Hypothesis seed (split so that a run holds at most one region entry per loss), each with its region
entries as plug-ins and only the gate tests they name (``Entry.caught_in``) selected::

    python -m pytest -q -p no:cacheprovider -p tests.catalogue.quick_profile --hypothesis-profile catalogue-detect \\
        --hypothesis-seed 1 \\
        --example-database off --first-finding -k "test_gradient_mse or ..." --impl mse=... ...

The runs use the ``default`` profile whatever the outer run's (``CI=1`` selects the derandomized
``ci`` profile, where a seed changes nothing), without shrinking (``quick_profile.DETECT``: only the catch
is asserted), and no example database (a saved failing example would
replay the first seed's catch in the others).
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the region meta-test runs in a checkout of lossproof", allow_module_level=True)
from tests.catalogue import CATALOGUE, REGIONS, impl_option, quick_profile  # noqa: E402
from tests.catalogue.runner import GateResult, failures_of, run_many  # noqa: E402

SEEDS = (1, 2, 3, 4, 5)
TIMEOUT_S = 600.0
ENTRIES = [e for e in CATALOGUE if e.region]


def _rank(entry) -> int:
    """The entry's place among the region entries of its loss: the run it goes in (see ``seeded_runs``)."""
    return [e for e in ENTRIES if e.loss == entry.loss].index(entry)


@pytest.fixture(scope="module")
def seeded_runs() -> dict[tuple[int, int], GateResult]:
    """``{(seed, rank): GateResult}``: per seed, one run per rank, each with at most one region entry per
    loss and only those entries' ``caught_in`` tests selected -- so no entry is checked by the tests
    selected for another entry of its loss (a cross-entropy entry caught only by the gradient check would
    otherwise run through the agreement and edge tests selected for its siblings first: over 10 minutes)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    jobs = []
    for seed in SEEDS:
        for rank in sorted({_rank(e) for e in ENTRIES}):
            mine = [e for e in ENTRIES if _rank(e) == rank]
            args = [*quick_profile.DETECT_ARGS, "--example-database", "off", "--first-finding",
                    "-k", " or ".join(sorted({e.caught_in for e in mine})), f"--hypothesis-seed={seed}"]
            jobs.append(((seed, rank), dict(impl_options=[impl_option(e) for e in mine], extra_args=args,
                                            timeout=TIMEOUT_S, env=env)))
    return run_many(jobs, workers=2)


def test_every_region_has_an_entry_from_a_real_bug_report():
    for region in REGIONS:
        mine = [e for e in ENTRIES if e.region == region]
        assert mine, f"no catalogue entry for the region {region!r}"
    for e in ENTRIES:
        assert e.region in REGIONS, f"{e.name}: unknown region {e.region!r}"
        assert not e.correct and e.caught_in.startswith("test_") and e.source.startswith("http"), (
            f"{e.name}: a region entry is buggy, names the gate test that catches it and the bug report it models")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_region_bug_is_caught_in_every_run(entry, seed, seeded_runs):
    result = seeded_runs[(seed, _rank(entry))]
    head = (f"{entry.name} ({entry.region}: {entry.bug}; modelled on {entry.source})\n"
            f"reproduce: {result.command_line}\ngate run: {result.describe()} after {result.wall:.1f} s\n")
    tail = f"\n--- output (tail) ---\n{result.tail()}"
    assert not result.timed_out and result.returncode == 1, f"{head}the gate did not run to findings{tail}"
    mine = failures_of(result, impl_option(entry))
    assert mine, f"{head}NOT CAUGHT with seed {seed} (expected {entry.caught_in} to catch it){tail}"
    first = mine[0][1].partition("::")[2]
    assert not first.startswith("test_gate_plugin_loads"), f"{head}the plug-in did not load: {mine[0][2]}{tail}"
    # the run selects its entries' caught_in tests: another entry's (of another loss) never checks this one
    print(f"{entry.name} seed {seed}: caught by {first}")
