"""How many examples each parametrized test of a loss draws: one budget per loss and check family,
spread over the family's tests of that loss.

Hypothesis's ``max_examples`` is per test, and a check family has one test per cell of a loss's
matrix (agreement: dtype x reduction x parameter variant; edge cases: row x dtype).  With the
profile's ``max_examples`` in every cell a loss's cost grows with its parameter surface:
cross-entropy's 12 variants make 144 agreement cells and 428 edge cells, 6 to 5 times mse's, and
one gate run on a correct cross-entropy drew ~7,000 cases (Hypothesis spends ~15 ms drawing one:
the first half of a test's time) -- 5.5 minutes, where mse took about one.

So a family's examples per loss are what ``CELLS[family]`` tests draw at the family's per-test
number (agreement: the profile's ``max_examples``, 25 by default and 500 nightly; an edge row:
``ROW_EXAMPLES``, a third of it), divided among the loss's cells: every cell between ``FLOOR`` and
the per-test number.  ``CELLS`` are the largest matrices but one (agreement 48 cells:
bce_with_logits; edge 112 cells: triplet_margin): every loss but cross-entropy keeps its full
per-test examples, and cross-entropy's cells each get what the budget leaves (agreement
48 x 25 / 144 = 8, edge rows 112 x 8 / 428 = 2) -- together what bce_with_logits's and
triplet_margin's draw.  Whether the
examples still find every bug is what the catalogue meta-test (tests/test_catalogue.py) and the
region meta-test (tests/test_region_bugs.py, five seeds) measure.
"""

from __future__ import annotations

import math

from hypothesis import settings

#: per check family, the loss's budget in tests drawing their full per-test examples
CELLS = {"agreement": 48, "edge cases": 112}
#: the fewest examples a cell draws, whatever the budget (a fixed edge row runs once anyway)
FLOOR = {"agreement": 4, "edge cases": 2}


def examples(family: str, cells: int, per_cell: int | None = None) -> int:
    """Examples per test of ``family`` for a loss with ``cells`` tests in it: ``per_cell`` (default the
    loaded profile's ``max_examples``) where the budget allows, never fewer than ``FLOOR[family]``."""
    top = per_cell if per_cell is not None else settings().max_examples
    return max(min(FLOOR[family], top), min(top, math.floor(CELLS[family] * top / max(cells, 1))))
