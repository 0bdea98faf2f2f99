"""The edge-case tables (``properties.edge_cases``): every row against every implementation
under test (each dtype and device) and against the reference (float64).

Ids read ``test_edge_<loss>[<subject>-<dtype>-<device>-<row>]``.  A row an implementation
is recorded to fail (``KnownFailure``: a known deviation) is asserted to still fail, so
the day upstream changes the behaviour, this test says so.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings, strategies as st

from properties.edge_cases import EDGE_CASES, EdgeCaseFailure, prepared, run_edge_case
from properties.fit import admitted, fitted
from properties.formats import FORMATS
from properties.specs import SPECS
from .matrix import ROW_EXAMPLES, check_with_known, subject_matrix
from properties.edge_cases.row import known_for


def _edge_test(spec):
    @pytest.mark.parametrize("subject, dtype, device, row", list(subject_matrix(spec, EDGE_CASES[spec.name])))
    @settings(max_examples=ROW_EXAMPLES)
    @given(data=st.data())
    def test(subject, dtype, device, row, data):
        fmt = FORMATS[dtype]
        case = data.draw(row.strategy(fmt), label="case")
        known = known_for(row.known_failures, subject, dtype)
        if not row.fixed and known is None:  # a transformed case stays in the dtype's comparable domain
            assume(spec.admits(prepared(row, case, dtype), fmt))
        # a fixed row's expectation may depend on every parameter: only a plug-in that can take it
        # as is; a drawn (generic) row's expectation is computed from the case it runs, so its
        # case is fitted like an agreement example (lacking parameters held at the default)
        case = admitted(fitted(spec, subject), subject, case, dtype=dtype, strict=row.fixed)
        check_with_known(subject, known, EdgeCaseFailure,
                         lambda s: run_edge_case(row, spec, s, dtype, device, case),
                         f"known deviation {getattr(known, 'deviation', None)!r} no longer holds: {subject.qualname} now meets "
                         f"{row.id} ({row.expect}). Upstream changed: update properties/known_deviations.toml.", spec)

    test.__name__ = test.__qualname__ = f"test_edge_{spec.name}"
    test.__doc__ = f"The {spec.name} edge-case table."
    return test


for _spec in SPECS.values():
    globals()[f"test_edge_{_spec.name}"] = _edge_test(_spec)
