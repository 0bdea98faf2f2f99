"""The edge-case tables (``properties.edge_cases``): every row against every implementation
under test (each dtype and device) and against the reference (float64).

Ids read ``test_edge_<loss>[<subject>-<dtype>-<device>-<row>]``; a row ``<condition>+<variant>`` is an
edge condition crossed with a parameter variant (``properties.edge_cases.crossed``), and
``test_every_edge_variant_pair_is_reached`` holds every pair the contract allows to its row.  A row an implementation
is recorded to fail (``KnownFailure``: a known deviation) is asserted to still fail, so
the day upstream changes the behaviour, this test says so.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings, strategies as st

from properties import budget
from properties.coverage import draw_from
from properties.edge_cases import CONDITIONS, EDGE_CASES, EdgeCaseFailure, allowed_pairs, edge_variant_pairs, prepared, \
    run_edge_case
from properties.fit import admitted, discarding_recorded, fitted
from properties.formats import FORMATS
from properties.specs import SPECS
from .matrix import ROW_EXAMPLES, check_with_known, subject_matrix
from properties.edge_cases.row import known_for


def _edge_test(spec):
    cells = sum(len(row.dtypes) for row in EDGE_CASES[spec.name])

    @pytest.mark.parametrize("subject, dtype, device, row", list(subject_matrix(spec, EDGE_CASES[spec.name])))
    @settings(max_examples=budget.examples("edge cases", cells, ROW_EXAMPLES))  # the loss's budget over its rows
    @given(data=st.data())
    def test(subject, dtype, device, row, data):
        fmt = FORMATS[dtype]
        case = data.draw(row.strategy(fmt), label="case")
        # a fixed row's expectation may depend on every parameter: only a plug-in that can take it
        # as is; a drawn (generic) row's expectation is computed from the case it runs, so its
        # case is fitted like an agreement example (lacking parameters held at the default)
        # a crossed row is its parameter variant's: an adapter not checked on that variant skips it
        case = admitted(fitted(spec, subject), subject, case, dtype=dtype, variant=row.variant if row.condition else None,
                        strict=row.fixed)
        # the recorded deviation of the case as the subject gets it: fitted (a plug-in without label_smoothing
        # gets a smoothed row's case at 0, where torch's masked-logit NaN is recorded)
        known = known_for(row.known_failures, subject, dtype, prepared(row, case, dtype))
        if not row.fixed and known is None:  # a transformed case stays in the dtype's comparable domain
            assume(spec.admits(prepared(row, case, dtype), fmt))
        # a value deviation recorded for the subject's region of cases (Subject.case_deviations, "agreement")
        # discards a failing example there, as in the agreement test
        run = lambda s: run_edge_case(row, spec, s, dtype, device, case)
        discarding_recorded(subject, "agreement", case, dtype, EdgeCaseFailure, lambda: check_with_known(
            subject, known, EdgeCaseFailure, run,
            f"known deviation {getattr(known, 'deviation', None)!r} no longer holds: {subject.qualname} now meets "
            f"{row.id} ({row.expect}). Upstream changed: update properties/known_deviations.toml.", spec), rerun=run, device=device)

    test.__name__ = test.__qualname__ = f"test_edge_{spec.name}"
    test.__doc__ = f"The {spec.name} edge-case table."
    return test


for _spec in SPECS.values():
    globals()[f"test_edge_{_spec.name}"] = _edge_test(_spec)


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_every_edge_variant_pair_is_reached(loss):
    """Every (edge condition, parameter variant) pair the contract allows (``allowed_pairs``) has its
    row, and that row's strategy (float32, the dtype's comparable domain) yields cases that show the
    condition in the variant: the pair is reached in every run, not by luck."""
    spec = SPECS[loss]
    missing = sorted(set(allowed_pairs(spec)) - set(edge_variant_pairs(loss)))
    assert not missing, f"{loss}: edge x variant pairs without a row: {missing}"
    holds = {c.name: c.holds for c in CONDITIONS}
    carries = {v: _variant_kwargs(spec, v) for v in spec.variants}
    fmt = FORMATS["float32"]
    for row in (r for r in EDGE_CASES[loss] if r.condition):
        # a crossed row applies its condition to every case it draws (by construction): a few show it
        drawn = draw_from(row.strategy(fmt), PAIR_EXAMPLES, seed=0,
                          keep=lambda case: spec.admits(prepared(row, case, "float32"), fmt))
        assert drawn, f"{row.id}: no case of the pair ({row.condition}, {row.variant}) in float32's domain"
        shown = [c for c in drawn if holds[row.condition](spec, c)]
        assert len(shown) == len(drawn), f"{row.id}: {len(drawn) - len(shown)} of {len(drawn)} cases lack the condition"
        assert all(set(c.kwargs) - {"reduction"} == carries[row.variant] for c in drawn), (
            f"{row.id}: cases not of the variant {row.variant!r}")


#: cases drawn per crossed row to show its pair is reached (the row's own test draws ROW_EXAMPLES)
PAIR_EXAMPLES = 3


def _variant_kwargs(spec, variant):
    """The keyword parameters the cases of ``variant`` carry (each variant's cases carry the same)."""
    case = draw_from(spec.cases(variant, FORMATS["float64"]), 1, seed=0)[0]
    return set(case.kwargs) - {"reduction"}
