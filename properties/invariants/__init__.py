"""Invariants: mathematical relations each loss satisfies, declared once per loss
(``INVARIANTS`` in its unit, ``properties/specs/<loss>.py``, on the forms of ``kinds`` and the
helpers of ``tables``) and run by one parametrized test (``tests/gate/test_invariants.py``) on every
implementation under test -- torch built-ins (every dtype and device) and the reference
(float64) -- with the tolerance derived from the model's bounds of each side (``core``).
An invariant the reference breaks is a bug in the reference or in the invariant.
"""

from __future__ import annotations

from .core import (
    Claim, Evaluator, InexactCase, Invariant, InvariantViolation, Q, Unsupported, exact_or_reject, is_exact,
    run_invariant,
)


def __getattr__(name: str):
    """``INVARIANTS``: loss name -> its unit's invariants, gathered on first use (the units import
    this package's forms)."""
    if name == "INVARIANTS":
        from ..specs import UNITS

        globals()["INVARIANTS"] = {loss: unit.INVARIANTS for loss, unit in UNITS.items()}
        return globals()["INVARIANTS"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["INVARIANTS", "Claim", "Evaluator", "InexactCase", "Invariant", "InvariantViolation", "Q", "Unsupported",
           "exact_or_reject", "is_exact", "run_invariant"]
