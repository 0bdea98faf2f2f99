"""The 60-digit mpmath transcription of ``mse`` (see :mod:`refimpl.exact`): it verifies ``refimpl.mse``."""

from __future__ import annotations

import numpy as np

from ._common import _check_reduction, _div, _high_precision, _map, _mp, _reduce, _scalar, _sum


@_high_precision
def mse(input, target, reduction: str = "mean", weight=None) -> np.ndarray:
    """Mean squared error; torch.nn.functional.mse_loss (ATen ``mse_loss``).

        term_i = w_i (x_i - y_i)^2                  (w = 1 without ``weight``)
        'mean' = sum_i term_i / n                   (unweighted)
        'mean' = sum_i term_i / sum_i w_i           (weighted: F.mse_loss divides by sum(weight))

    input and target broadcast like numpy (torch.broadcast_tensors); ``weight``
    must have the shape of ``input``.
    """
    _check_reduction(reduction)
    terms = _map(lambda x, y: (x - y) ** 2, _mp(input), _mp(target))
    if weight is None:
        return _reduce(terms, reduction)
    w = _mp(weight)
    if w.shape != np.shape(input):
        raise ValueError(f"weight shape {w.shape} must equal input shape {np.shape(input)}")
    terms = _map(lambda t, wi: wi * t, terms, w)
    if reduction == "mean":
        return _scalar(_div(_sum(terms), _sum(w)))
    return _reduce(terms, reduction)
