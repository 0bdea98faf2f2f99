"""The gate on partial implementations: for every loss and every optional parameter of its contract,
a correct implementation lacking that parameter (and one lacking all of them) --
``tests/catalogue/partial.py`` derives them from torch's function or the catalogue's correct entry
-- passes the gate, with examples in every check family that applies to it.

One gate run per loss (its partial implementations as repeated ``--impl``), float64 (where a
correct implementation must agree most tightly), the catalogue's tiny profile (4 examples); two runs at a
time.  A family may check nothing only where none of its tests applies (each needs a parameter
value the implementation lacks: reduction='sum' for a mean-only one) -- never "0 examples" in tests
that ran.  Deselected in a gate run, like every test without a plug-in subject.
"""

from __future__ import annotations

import re

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
from properties.specs import SPECS  # noqa: E402
from tests.catalogue import quick_profile  # noqa: E402
from tests.catalogue.partial import PARTIAL  # noqa: E402
from tests.catalogue.runner import GateResult, run_many  # noqa: E402

MODULE = "tests.catalogue.partial"
ALWAYS = ("agreement", "gradients", "edge cases")  # families every correct implementation gets examples in
FAMILY_LINE = re.compile(r"^\s+(agreement|gradients|edge cases|invariants|bad inputs)\s+(\d+) examples \((\d+) calls\) "
                         r"in (\d+) tests;", re.M)


def _options(loss: str) -> list[str]:
    return [f"{loss}={MODULE}:{name}" for name, (lo, _) in PARTIAL.items() if lo == loss]


@pytest.fixture(scope="module")
def runs() -> dict[str, GateResult]:
    jobs = [(loss, dict(impl_options=_options(loss), timeout=600.0,
                        extra_args=[*quick_profile.TINY_ARGS, "--dtype", "float64"]))
            for loss in sorted(SPECS, key=lambda n: -len(_options(n)))]
    return run_many(jobs, workers=2)


def test_every_optional_parameter_has_partial_implementations():
    for loss, spec in SPECS.items():
        names = {n for n, (lo, _) in PARTIAL.items() if lo == loss}
        assert names, f"{loss}: no partial implementation"
        assert all(f"{loss}__without_{p}" in names for p in PARTIAL_PARAMS(loss)), loss


def PARTIAL_PARAMS(loss):  # noqa: N802 - the contract's optional parameters, as the derivation reads them
    from tests.catalogue.partial import optional

    return optional(loss)


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_partial_implementation_passes_with_examples(runs, name):
    loss, lacking = PARTIAL[name]
    result = runs[loss]
    context = f"\nreproduce: {result.command_line}\n{result.describe()}\n--- output (tail) ---\n{result.tail(80)}"
    assert result.returncode == 0, f"{name} (without {', '.join(lacking)}): the run did not conform{context}"
    block = result.coverage().get(f"{loss}={MODULE}.{name}")
    assert block, f"{name}: not in the coverage summary{context}"
    families = {m[0]: (int(m[1]), int(m[3])) for m in FAMILY_LINE.findall("\n".join("  " + ln for ln in block))}
    for family in ALWAYS:
        assert families.get(family, (0, 0))[0] > 0, f"{name}: no {family} example: {block}{context}"
    for family, (examples, tests) in families.items():
        assert examples > 0 or tests == 0, f"{name}: {family} ran {tests} tests without an example: {block}"
