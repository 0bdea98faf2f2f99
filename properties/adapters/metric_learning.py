"""pytorch-metric-learning: no subject.  ``pytorch_metric_learning.losses.ContrastiveLoss`` cannot
reproduce the contrastive contract, by its formula, not by an adaptable convention.

The contract (refimpl.contrastive; Hadsell, Chopra & LeCun 2006, eq. 4), per pair i of rows
(input1_i, input2_i), d_i = ||input1_i - input2_i||_2:

    0.5 d_i^2                   if target_i = 1  (similar)
    0.5 max(0, margin - d_i)^2  if target_i = -1 (dissimilar),   reduced by 'none' / 'mean' / 'sum'.

ContrastiveLoss(pos_margin, neg_margin, distance, reducer) per pair, with the distance object's
value D (``LpDistance(p=2, power=k, normalize_embeddings=False)``: D = d^k):

    relu(D - pos_margin)        for a positive pair
    relu(neg_margin - D)        for a negative pair (the hinge is not squared).

What would translate: the pairs (``indices_tuple`` = (a1, p, a2, n) indexing ``cat(input1,
input2)`` instead of pairs mined from labels), the distance (``normalize_embeddings=False``:
the default LpDistance L2-normalises the embeddings first) and the reduction
(``DoNothingReducer`` for 'none'; the default ``AvgNonZeroReducer`` averages the positive and
the negative pair losses separately, each over its non-zero entries only -- issue #107 made it
0, not NaN, when none is non-zero -- and adds the two means; ``MeanReducer`` also adds two
means).  What does not: the negative term.  power=2 gives the positive term d^2 (the contract's
up to the factor 1/2), but the negative term is (m - d^2)+, never (m - d)+^2; power=1 gives
(m - d)+ but d for the positive term.  No constant factor relates them.  Computed with 2.9.0,
margin = neg_margin = 1, pos_margin = 0, input1 = 0, input2 rows (0.5, 0), (0.25, 0), (0.6, 0.8),
targets (-1, -1, 1):

    contract              0.125,  0.28125,  0.5
    power=1 (DoNothing)   0.5,    0.75,     1.0
    power=2 (DoNothing)   0.75,   0.9375,   1.0
    defaults (normalised embeddings, AvgNonZeroReducer, same indices_tuple): 1.0 (contract mean 0.302)

The negative terms' ratio to the contract is 4 and 2.67 (power=1), 6 and 3.33 (power=2): not a
rescaling.  A custom distance whose ``margin`` squares the hinge would be the adapter computing
the loss, not the library.  (Issue #14: the maintainer cites Hadsell eq. 4 with "the only
difference ... a positive pair margin", but the code has the unsquared hinge; issue #246: the
margins' meaning flips with a similarity, e.g. CosineSimilarity.)  So contrastive has no
third-party subject; this module defines none.
"""

from __future__ import annotations

LIBRARY = "pytorch_metric_learning"


def subjects(version: str) -> dict:
    """None: see the module docstring."""
    return {}
