"""Every invariant can fail: the reference (a correct implementation) meets it, and the deliberately
wrong implementation mapped to it (its unit's ``INVARIANT_MUTANTS``, else ``tests/invariant_mutants.py``) is caught by it, with a violation
clearly above the tolerance (violation / allowed >= ``CLEARLY``)."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings, strategies as st

from .invariant_mutants import mutant, mutant_for
from properties.formats import FORMATS
from properties.invariants import INVARIANTS, InvariantViolation, run_invariant
from properties.specs import SPECS
from properties.subjects import reference_subject

ALL = [inv for invs in INVARIANTS.values() for inv in invs]
#: A catch counts when the violation is at least this multiple of the allowed tolerance.
CLEARLY = 2.0
#: Cases tried (within one example) until the mutant is caught: some cases cannot expose a given bug
#: (a batch of one, a zero residual).
ATTEMPTS = 100
#: The dtype of the search (float64 unless stated): the float64 embedding strategies draw rows of
#: magnitude ~1e57 and up, where distances dwarf any margin (max(0, d − m) = d): the margin's effect
#: is visible only with float32's magnitudes (1e-3 .. 1e9).
DTYPES = {"contrastive/nondecreasing_in_margin": "float32"}
RATIOS: dict[str, float] = {}


class _Caught(Exception):
    def __init__(self, ratio):
        super().__init__(f"caught, violation/allowed = {ratio:.3g}")
        self.ratio = ratio


def test_every_invariant_has_a_mutant():
    assert not [inv.id for inv in ALL if mutant_for(inv) is None]


@pytest.mark.parametrize("inv", ALL, ids=[inv.id for inv in ALL])
def test_invariant_can_fail(inv):
    spec = SPECS[inv.loss]
    found = mutant_for(inv)
    name, bad = found[0], mutant(spec, found)
    ref = reference_subject(spec)
    dtype = DTYPES.get(inv.id, "float64")
    fmt = FORMATS[dtype]
    # Up to ATTEMPTS generated cases, stopped by the first clear catch (raised as _Caught; no shrinking).
    @settings(max_examples=ATTEMPTS, phases=[Phase.generate], database=None)
    @given(data=st.data())
    def search(data):
        case = data.draw(inv.strategy(spec, fmt)).rounded(dtype)
        run_invariant(inv, spec, ref, dtype, "cpu", case, data.draw)  # a correct implementation passes
        try:
            run_invariant(inv, spec, bad, dtype, "cpu", case, data.draw)
        except InvariantViolation as exc:
            if exc.ratio >= CLEARLY:
                raise _Caught(exc.ratio) from exc

    try:
        search()
    except _Caught as exc:
        RATIOS[inv.id] = exc.ratio
        return
    pytest.fail(f"mutant {name!r} was not caught (violation >= {CLEARLY} x tolerance) by invariant {inv.id} "
                f"in {ATTEMPTS} cases: the invariant cannot fail")


def test_an_invariant_is_not_checked_where_the_loss_overflows_the_dtype():
    """A float16 'sum' of 800 BCE terms clamped at 100 is 80,000: beyond 65504, so every correct
    implementation returns inf (IEEE rounding, which agreement accepts: ``rounded_to_inf``) and no relation
    between values can hold -- the example is outside the invariants' domain (rejected, not a violation;
    found by a default-profile run: the catalogue's correct BCE, batch_split).  The same example at 600
    terms (60,000) is inside it, and checked."""
    import numpy as np
    from hypothesis.errors import UnsatisfiedAssumption

    from properties.cases import Case
    from properties.subjects import builtin_subjects

    spec = SPECS["bce"]
    inv = next(i for i in INVARIANTS["bce"] if i.name == "batch_split")
    torch_bce = builtin_subjects(spec)[0]
    half = lambda k: k // 2  # noqa: E731 - the split point the relation draws
    for n, inside in ((800, False), (600, True)):
        case = Case({"input": np.zeros(n), "target": np.ones(n)}, {})
        if inside:
            run_invariant(inv, spec, torch_bce, "float16", "cpu", case, lambda *a, **k: half(n))
        else:
            with pytest.raises(UnsatisfiedAssumption):
                run_invariant(inv, spec, torch_bce, "float16", "cpu", case, lambda *a, **k: half(n))
