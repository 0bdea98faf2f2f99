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

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input1', 'input2')  # target: +-1 labels



def contrastive(input1, input2, target, margin: float = 1.0, reduction: str = "mean", grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.contrastive` (Hadsell, Chopra & LeCun 2006).

    Per row, v = a - b, d = ||v||_2, gbar = grad_output ('none'), g ('sum'), g / N ('mean'):
        y = 1:   d/da = gbar v
        y = -1:  d/da = -gbar max(0, margin - d) v / d     (0 where margin - d <= 0, and 0 at d = 0: torch's
                 norm backward convention, where the direction v / d is undefined)
        d/db = -d/da

    Parameters:
        input1, input2, target, margin, reduction: as for :func:`refimpl.contrastive`, which is called to
            validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: (N,) or 0-d.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input1" and "input2" (the inputs' shape), plus "input1__mag" /
    "input2__mag", a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``):
    |v| |gbar| (y = 1), (|margin| + d) |v| |gbar| / d (active dissimilar rows), 0 elsewhere.
    The target (+-1 labels) is not differentiated.
    Source: Hadsell et al. 2006, eq. 4, differentiated (no torch function).
    """
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
