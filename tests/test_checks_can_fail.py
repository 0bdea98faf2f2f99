"""Every edge-case row and every bad-input row can fail: a correct implementation (the
reference as a torch function) passes it, and at least one deliberately wrong one
(``tests/mutants.py``) is caught by it.  The input-mutation guard catches in-place writes
in every kind of check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from .mutants import MUTANTS, mutant
from properties.agreement import AgreementError, check_agreement
from properties.bad_inputs import BAD_INPUTS, BadInputFailure, check_bad_input
from properties.edge_cases import EDGE_CASES, EdgeCaseFailure, run_edge_case
from properties.formats import FLOAT64, FORMATS
from properties.specs import SPECS
from properties.subjects import reference_subject

OUTPUT_MUTANTS = [m for m in MUTANTS if m != "mutates_input"]
ROWS = [row for rows in EDGE_CASES.values() for row in rows]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
@settings(max_examples=5)
@given(data=st.data())
def test_edge_case_row_can_fail(row, data):
    spec = SPECS[row.loss]
    dtype = "float64" if "float64" in row.dtypes else row.dtypes[0]
    case = data.draw(row.strategy(FORMATS[dtype]))
    run_edge_case(row, spec, reference_subject(spec), dtype, "cpu", case)  # a correct implementation passes
    caught = []
    for name in OUTPUT_MUTANTS:
        try:
            run_edge_case(row, spec, mutant(spec, name), dtype, "cpu", case)
        except EdgeCaseFailure:
            caught.append(name)
    assert caught, f"no wrong implementation fails edge case {row.id} on {case!r}: the row cannot fail"


BAD = [row for rows in BAD_INPUTS.values() for row in rows]


@pytest.mark.parametrize("row", BAD, ids=[r.id for r in BAD])
def test_bad_input_row_can_fail(row):
    spec = SPECS[row.loss]
    check_bad_input(row, reference_subject(spec), "float64", "cpu", reference=True)
    with pytest.raises(BadInputFailure, match="accepted the invalid call"):
        check_bad_input(row, mutant(spec, "swallows_errors"), "float64", "cpu")


@pytest.mark.parametrize("loss", list(SPECS))
@settings(max_examples=3)
@given(data=st.data())
def test_input_mutation_is_caught_everywhere(loss, data):
    spec = SPECS[loss]
    bad = mutant(spec, "mutates_input")
    # contiguous: an in-place write into a stride-0 (expanded) tensor raises instead of mutating it
    case = data.draw(spec.cases(spec.variants[0], FLOAT64)).laid_out({})
    with pytest.raises(AgreementError, match="modified its inputs"):
        check_agreement(spec, bad, case, "float64", "cpu", spec.reductions[0], record=False)
    row = next(r for r in EDGE_CASES[loss] if r.name.startswith("layout-"))
    with pytest.raises(EdgeCaseFailure, match="modified its inputs"):
        run_edge_case(row, spec, bad, "float64", "cpu", case.with_kwargs(reduction=spec.reductions[0]))
    with pytest.raises(BadInputFailure, match="modified its inputs"):
        check_bad_input(BAD_INPUTS[loss][0], bad, "float64", "cpu")


@settings(max_examples=3)
@given(data=st.data())
def test_the_harness_arrays_are_not_mutated(data):
    """The Case a test draws is not changed by a mutating implementation (tensors are copies)."""
    spec = SPECS["mse"]
    case = data.draw(spec.cases("plain", FLOAT64))
    before = [v.copy() for _, v in case.arrays()]
    with pytest.raises(AgreementError):
        check_agreement(spec, mutant(spec, "mutates_input"), case, "float64", "cpu", "sum", record=False)
    assert all(np.array_equal(a, b, equal_nan=True) for a, (_, b) in zip(before, case.arrays()))
