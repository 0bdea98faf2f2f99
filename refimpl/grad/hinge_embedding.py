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

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input',)  # target: +-1 labels



def hinge_embedding(input, target, margin: float = 1.0, reduction: str = "mean", grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.hinge_embedding`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        gbar = grad_output ('none'), g ('sum'), g / n ('mean', n = number of broadcast terms)
        d/dx = gbar                                   (y = 1)
               -gbar if margin - x >= 0, else 0       (y = -1; at margin - x = 0 torch's clamp_min backward passes)
        summed over the axes the input was broadcast along (autograd's rule)

    Parameters:
        input, target, margin, reduction: as for :func:`refimpl.hinge_embedding`, which is called to validate
            them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the broadcast shape of input and target.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input" (the input's shape) and "input__mag", a non-negative magnitude
    for the rounding-error bound K u mag (``refimpl.grad._common``): |gbar| where the slope is nonzero,
    summed over the broadcast axes.  The target (+-1 labels) is not differentiated.
    Source: ATen ``hinge_embedding_loss`` (Loss.cpp), a composite differentiated by autograd.
    """
    _reference(input, target, margin=margin, reduction=reduction)  # validates
    x0 = as_f64("input", input)
    x, y = broadcast_pair(x0, as_f64("target", target))
    gbar = per_term(grad_output, reduction, x.shape)
    slope = np.where(y == 1, 1.0, np.where(float(margin) - x >= 0, -1.0, 0.0))
    g = slope * gbar  # summed back over the dims a broadcast input was expanded along
    return pack(input=(sum_to_shape(g, x0.shape), sum_to_shape(np.abs(g), x0.shape)))
