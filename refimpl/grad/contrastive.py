"""Gradient of ``refimpl.contrastive`` (Hadsell, Chopra & LeCun 2006), per row, v = a - b,
d = ||v||_2:

    y = 1:  term = d^2 / 2                 d/da = v                     mag |v|
    y = -1: term = max(0, margin - d)^2/2  d/da = -max(0, margin - d) v / d
                                           mag (|margin| + d) |v| / d (where margin - d > 0)
    d/db = -d/da;  times gbar = grad_output ('none'), g ('sum'), g / N ('mean').

Conventions: at margin - d == 0 both one-sided derivatives are 0 (the squared hinge
is C^1), so no choice arises there; at d = 0 (a == b) with margin > 0 the dissimilar
term's gradient has no limit (the direction v/d is undefined) and this returns 0 --
the convention of torch's norm backward (``masked_fill_(norm == 0, 0)``, e.g. through
``torch.linalg.vector_norm`` or ``pairwise_distance``); a transcription through
``sqrt(sum(v**2))`` would give NaN there instead.  The similar branch is a polynomial
(exactly v, no d needed).
"""

from __future__ import annotations

import numpy as np

from .. import contrastive as _reference
from .._common import as_f64, rowwise
from .._distance import pnorm_rows
from ._common import expand_rows, pack, per_term


def contrastive(input1, input2, target, margin: float = 1.0, reduction: str = "mean", grad_output=None) -> dict:
    _reference(input1, input2, target, margin=margin, reduction=reduction)  # validates
    margin = float(margin)
    a, b, y = as_f64("input1", input1), as_f64("input2", input2), as_f64("target", target)
    v = a - b
    d = rowwise(lambda v: pnorm_rows(v, 2.0), v)
    gbar = per_term(grad_output, reduction, y.shape)
    gap = np.maximum(margin - d, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = np.where(y == 1, 1.0, np.where((d > 0) & (gap > 0), -gap / d, 0.0))
        cmag = np.where(y == 1, 1.0, np.where((d > 0) & (gap > 0), (abs(margin) + d) / d, 0.0))
    ga = v * expand_rows(coef * gbar)
    ma = np.abs(v) * expand_rows(cmag * np.abs(gbar))
    return pack(input1=(ga, ma), input2=(-ga, ma))
