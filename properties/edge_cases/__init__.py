"""Edge-case tables: one list of :class:`EdgeCase` rows per loss, run by one parametrized
test (``tests/gate/test_edge_cases.py``) against every implementation under test and the reference.

``EDGE_CASES[loss]`` = the rows every loss gets (``generic``: empty batch, NaN,
subnormals, memory layouts) + every edge condition crossed with every parameter variant
(``crossed``: rows ``<condition>+<variant>``) + the loss's own rows (``EDGE_ROWS`` in its unit,
``properties/specs/<loss>.py``; built on first use, since the units import this package's row types).  A row whose
expectation an implementation is known not to meet names the recorded known
deviation (``KnownFailure``); the test then asserts that it still fails.
"""

from __future__ import annotations

from dataclasses import replace

from .expect import Context, Expectation
from .crossed import CONDITIONS, allowed_pairs, crossed_rows, edge_variant_pairs as _pairs
from .generic import generic_rows
from ..known import KnownFailure
from .row import EdgeCase, EdgeCaseFailure, Layout, prepared, run_edge_case
from .tables import GENERIC_KNOWN_FAILURES, condition_known_failures


def _with_known_failures(row: EdgeCase) -> EdgeCase:
    extra = GENERIC_KNOWN_FAILURES.get((row.loss, row.name), ())
    return replace(row, known_failures=row.known_failures + extra) if extra else row


def _edge_cases() -> dict[str, list[EdgeCase]]:
    from ..specs import SPECS, UNITS

    known = condition_known_failures(SPECS)
    return {name: [_with_known_failures(r) for r in generic_rows(spec)] + crossed_rows(spec, known)
            + UNITS[name].EDGE_ROWS for name, spec in SPECS.items()}


def __getattr__(name: str):
    if name == "EDGE_CASES":  # built once, on first use
        globals()["EDGE_CASES"] = _edge_cases()
        return globals()["EDGE_CASES"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def edge_variant_pairs(loss: str) -> list[tuple[str, str]]:
    """The (edge condition, parameter variant) pairs the edge-case table of ``loss`` reaches (each
    pair a row: the coverage table; tests/gate/test_edge_cases.py: every pair the contract allows)."""
    from . import EDGE_CASES

    return sorted(set(_pairs(EDGE_CASES[loss])))

__all__ = ["CONDITIONS", "EDGE_CASES", "allowed_pairs", "edge_variant_pairs", "Context", "EdgeCase", "EdgeCaseFailure", "Expectation", "KnownFailure", "Layout",
           "prepared", "run_edge_case"]
