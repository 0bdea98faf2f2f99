"""Edge-case tables: one list of :class:`EdgeCase` rows per loss, run by one parametrized
test (``tests/test_edge_cases.py``) against every implementation under test and the reference.

``EDGE_CASES[loss]`` = the rows every loss gets (``generic``: empty batch, NaN,
subnormals, memory layouts) + every edge condition crossed with every parameter variant
(``crossed``: rows ``<condition>+<variant>``) + the loss's own table (``tables``).  A row whose
expectation an implementation is known not to meet names the recorded known
deviation (``KnownFailure``); the test then asserts that it still fails.
"""

from __future__ import annotations

from dataclasses import replace

from ..specs import SPECS
from .expect import Context, Expectation
from .crossed import CONDITIONS, allowed_pairs, crossed_rows, edge_variant_pairs as _pairs
from .generic import generic_rows
from .row import EdgeCase, EdgeCaseFailure, KnownFailure, Layout, prepared, run_edge_case
from .tables import CONDITION_KNOWN_FAILURES, GENERIC_KNOWN_FAILURES, TABLES


def _with_known_failures(row: EdgeCase) -> EdgeCase:
    extra = GENERIC_KNOWN_FAILURES.get((row.loss, row.name), ())
    return replace(row, known_failures=row.known_failures + extra) if extra else row


EDGE_CASES: dict[str, list[EdgeCase]] = {
    name: [_with_known_failures(r) for r in generic_rows(spec)] + crossed_rows(spec, CONDITION_KNOWN_FAILURES)
    + TABLES.get(name, []) for name, spec in SPECS.items()
}


def edge_variant_pairs(loss: str) -> list[tuple[str, str]]:
    """The (edge condition, parameter variant) pairs the edge-case table of ``loss`` reaches (each
    pair a row: the coverage table; tests/test_edge_cases.py: every pair the contract allows)."""
    return sorted(set(_pairs(EDGE_CASES[loss])))

__all__ = ["CONDITIONS", "EDGE_CASES", "allowed_pairs", "edge_variant_pairs", "Context", "EdgeCase", "EdgeCaseFailure", "Expectation", "KnownFailure", "Layout",
           "prepared", "run_edge_case"]
