"""The example budget per loss and check family (``properties.budget``): every loss but the largest
keeps its tests' full examples; the largest spends about the budget, never below the floor."""

from __future__ import annotations

from hypothesis import settings

from properties import budget
from properties.edge_cases import EDGE_CASES
from properties.formats import DTYPE_NAMES
from properties.specs import SPECS

from .gate.matrix import ROW_EXAMPLES


def _cells(spec):
    return {"agreement": len(DTYPE_NAMES) * len(spec.reductions) * len(spec.variants),
            "edge cases": sum(len(row.dtypes) for row in EDGE_CASES[spec.name])}


def test_only_cross_entropy_is_cut():
    top = {"agreement": settings().max_examples, "edge cases": ROW_EXAMPLES}
    for loss, spec in SPECS.items():
        for family, cells in _cells(spec).items():
            n = budget.examples(family, cells, top[family])
            if loss == "cross_entropy":
                assert budget.FLOOR[family] <= n < top[family], (loss, family, n)
                assert n * cells <= budget.CELLS[family] * top[family] < (n + 1) * cells, (loss, family, n)
            else:
                assert n == top[family], f"{loss} {family}: {n} examples per test, not the full {top[family]}"


def test_floor_and_ceiling():
    assert budget.examples("agreement", 10**6, 25) == budget.FLOOR["agreement"]
    assert budget.examples("agreement", 1, 25) == 25
    assert budget.examples("edge cases", 10**6, 1) == 1  # never above the per-test number
