"""Invariants: mathematical relations each loss satisfies, declared once per loss
(``tables``) and run by one parametrized test (``tests/test_invariants.py``) on every
implementation under test -- torch built-ins (every dtype and device) and the reference
(float64) -- with the tolerance derived from the model's bounds of each side (``core``).
An invariant the reference breaks is a bug in the reference or in the invariant.
"""

from __future__ import annotations

from ..specs import SPECS
from .core import (
    Claim, Evaluator, InexactCase, Invariant, InvariantViolation, Q, Unsupported, exact_or_reject, is_exact,
    run_invariant,
)
from .tables import TABLES

INVARIANTS: dict[str, list[Invariant]] = {name: TABLES.get(name, []) for name in SPECS}


__all__ = ["INVARIANTS", "Claim", "Evaluator", "InexactCase", "Invariant", "InvariantViolation", "Q", "Unsupported",
           "exact_or_reject", "is_exact", "run_invariant"]
