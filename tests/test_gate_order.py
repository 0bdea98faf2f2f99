"""The order a gate run checks a plug-in in (``properties.pytest_plugin._round_robin``): the contract
first, then the check families in turns -- every family's first test, then every family's second ...
-- with float64 and the CPU first within a family.  A bug that one family alone catches is then met
after a few tests of the others, not after all of them (the time to a first finding, and a buggy
catalogue entry's cost under ``--first-finding``).

Checked on what a gate run collects (``--collect-only``, a subprocess as users run it), and the check
is shown to reject the collection order the run had before (one family's tests all before the next's).
Deselected in a gate run, like every test without a plug-in subject.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
from properties.formats import DTYPE_NAMES  # noqa: E402
from properties.pytest_plugin import ROUND_ORDER  # noqa: E402
from tests.catalogue.runner import kind_of, run_gate  # noqa: E402

PLUGINS = ["mse=tests.catalogue.regression:mse_loss", "mse=tests.catalogue.regression:mse_unweighted"]
_ID = re.compile(r"^tests/gate/\S+::\S+$", re.M)
_DTYPE = re.compile(r"[\[-](float64|float32|float16|bfloat16)[-\]]")


def out_of_turn(ids: list[str]) -> list[str]:
    """What breaks the round-robin order in ``ids`` (one plug-in's test ids in run order): a test of
    the contract after a family's, a family's (k+1)-th test before another family's k-th while that one
    has a k-th, a dtype before one earlier in ``DTYPE_NAMES`` within a family, a CUDA test before a CPU
    test of its dtype."""
    problems, kinds = [], [kind_of(i) for i in ids]
    size = {k: kinds.count(k) for k in set(kinds)}
    turn, seen = [], {}
    for kind in kinds:
        turn.append(seen.get(kind, 0))
        seen[kind] = turn[-1] + 1
    started = False
    for i, (test, kind, k) in enumerate(zip(ids, kinds, turn)):
        if kind == "contract":
            if started:
                problems.append(f"{test}: the contract after a check family's test")
            continue
        started = True
        # every family with more than k tests has its k-th (0-based) before any family's (k+1)-th
        late = [f for f in size if f != "contract" and size[f] > k and kinds[:i].count(f) < k]
        if late:
            problems.append(f"{test}: turn {k + 1} of {kind} before turn {k} of {', '.join(sorted(late))}")
    for kind in size:
        mine = [t for t, kd in zip(ids, kinds) if kd == kind]
        ranks = [(DTYPE_NAMES.index(m.group(1)) if (m := _DTYPE.search(t)) else len(DTYPE_NAMES), "-cuda-" in t)
                 for t in mine]
        problems += [f"{t}: {kind} out of dtype / device order" for t, a, b in zip(mine[1:], ranks, ranks[1:]) if b < a]
    return problems


@pytest.fixture(scope="module")
def collected() -> dict[str, list[str]]:
    """``{plug-in name (impl, impl2): its test ids in the order the gate runs them}``."""
    result = run_gate(PLUGINS, ["--collect-only"], timeout=300.0)  # (-q: one test id a line)
    ids = _ID.findall(result.output)
    assert ids, result.tail()
    out: dict[str, list[str]] = {}
    for test in ids:
        name = re.search(r"[\[-](impl\d*)[-\]]", test).group(1)
        out.setdefault(name, []).append(test)
    return out


def test_every_plugin_is_checked_in_turns(collected):
    assert set(collected) == {"impl", "impl2"}
    for name, ids in collected.items():
        assert kind_of(ids[0]) == "contract", f"{name}: the run starts with {ids[0]}"
        assert {kind_of(i) for i in ids} <= set(ROUND_ORDER), sorted({kind_of(i) for i in ids})
        problems = out_of_turn(ids)
        assert not problems, f"{name}:\n" + "\n".join(problems[:20])


def test_the_check_rejects_one_family_after_another(collected):
    """The order the gate had before (each test module's tests together, as collected) is not in turns."""
    ids = collected["impl"]
    by_module = sorted(ids, key=lambda t: (ROUND_ORDER.index(kind_of(t)), ids.index(t)))
    problems = out_of_turn(by_module)
    assert any("before turn" in p for p in problems), problems[:5]
    dtype_swapped = list(ids)
    first64 = next(i for i, t in enumerate(ids) if "-float64-" in t and kind_of(t) == "agreement")
    first32 = next(i for i, t in enumerate(ids) if "-float32-" in t and kind_of(t) == "agreement")
    dtype_swapped[first64], dtype_swapped[first32] = dtype_swapped[first32], dtype_swapped[first64]
    assert any("dtype / device order" in p for p in out_of_turn(dtype_swapped))
