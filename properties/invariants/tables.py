"""What the per-loss invariants share (each loss's own are ``INVARIANTS`` in its unit,
``properties/specs/<loss>.py``).  Each entry: a name, a one-line mathematical statement, the
exact condition under which it holds (the README's table), the relation (``kinds``), and the
domain it is drawn from (variants of the loss's own strategy, or its own strategy).

Inexact transforms (``logit``, ``log``) carry a derived slack, stated with the invariant: the
loss's Lipschitz constant in the perturbed input times the rounding of that input to the dtype
(the rounding is known exactly: float64 value minus dtype value), plus the float64 error of the
transform itself (log: 2 u_64 |log|, the model's convention for a transcendental).
"""

from __future__ import annotations


import numpy as np
from hypothesis import assume

from ..cases import Case
from ..formats import FLOAT64
from .core import Invariant
from .kinds import (
    batch_permutation, batch_split, power_of_two, reduction_identities,
)

U64 = FLOAT64.u


def inv(loss_name, name, statement, holds_when, relation, **kw) -> Invariant:
    return Invariant(loss_name, name, statement, holds_when, relation, **kw)


def structure(loss_name, variants=None, batch_variants=None, perm=None, split=None, what="every variant",
               perm_when="batch size ≥ 2", split_when="batch size ≥ 2, 0 < k < N"):
    """The reduction identities and the batch structure (every loss has them)."""
    bv = batch_variants if batch_variants is not None else variants
    return [
        inv(loss_name, "reductions", "sum = Σ none; mean = Σ none / spec.denominator (batchmean: / batch size); "
             "none has the unreduced shape", what, reduction_identities(), variants=variants),
        inv(loss_name, "batch_permutation", "loss(x[π])_none = loss(x)_none[π]; loss(x[π])_sum = loss(x)_sum",
             perm_when, perm or batch_permutation(), variants=bv),
        inv(loss_name, "batch_split", "loss(x)_sum = loss(x[:k])_sum + loss(x[k:])_sum", split_when,
             split or batch_split(), variants=bv),
    ]


def target_is_input(ev, case, draw):
    return Case({**case.args, "target": case.args["input"]}, case.kwargs)


def exp2(draw, lo=-6, hi=6):
    return power_of_two(draw, lo, hi)


# ---- regression ---------------------------------------------------------------------------------------

def in_residual_range(ev, case):
    """Reject a scaled case beyond the regression strategies' magnitude cap (so that squares and
    their sums stay finite in the dtype, as for every drawn case)."""
    from ..specs._residual import MAX_ELEMS

    cap = ev.fmt.headroom_cap(power=2, count=MAX_ELEMS) / 4
    assume(all(np.all(np.abs(case.args[k]) <= cap) for k in ("input", "target")))
    return case
