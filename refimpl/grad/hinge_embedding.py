"""Gradient of ``refimpl.hinge_embedding`` (``torch.nn.functional.hinge_embedding_loss``).

    term = x (y = 1),  max(0, margin - x) (y = -1)
    d term / d x = 1 (y = 1);  -1 if margin - x >= 0 else 0 (y = -1)
    times gbar = grad_output ('none'), g ('sum'), g / n ('mean').

Kink convention: torch computes ``(margin - x).clamp_min_(0)`` and clamp_min's backward
is ``where(self >= min, grad, 0)`` (derivatives.yaml), so at margin - x == 0 exactly the
gradient passes: -1.  mag: ``|grad|`` (a sign).
Source: ATen ``hinge_embedding_loss`` (Loss.cpp), a composite differentiated by autograd.
"""

from __future__ import annotations

import numpy as np

from .. import hinge_embedding as _reference
from .._common import as_f64, broadcast_pair
from ._common import pack, per_term, sum_to_shape


def hinge_embedding(input, target, margin: float = 1.0, reduction: str = "mean", grad_output=None) -> dict:
    _reference(input, target, margin=margin, reduction=reduction)  # validates
    x0 = as_f64("input", input)
    x, y = broadcast_pair(x0, as_f64("target", target))
    gbar = per_term(grad_output, reduction, x.shape)
    slope = np.where(y == 1, 1.0, np.where(float(margin) - x >= 0, -1.0, 0.0))
    g = slope * gbar  # summed back over the dims a broadcast input was expanded along
    return pack(input=(sum_to_shape(g, x0.shape), sum_to_shape(np.abs(g), x0.shape)))
