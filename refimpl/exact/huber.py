"""The 60-digit mpmath transcription of ``huber`` (see :mod:`refimpl.exact`): it verifies ``refimpl.huber``."""

from __future__ import annotations

import numpy as np

from ._common import _check_reduction, _finite_param, _high_precision, _map, _mp, _reduce


@_high_precision
def huber(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> np.ndarray:
    """Huber loss; torch.nn.functional.huber_loss (ATen ``huber_loss``; Huber 1964).

        z = |x - y|;  term = 0.5 z^2 if z < delta else delta (z - 0.5 delta)

    With ``weight`` (shape of ``input``) each term is multiplied by w and
    'mean' is the plain mean of the weighted terms (torch does NOT divide by
    sum(weight) here, unlike mse_loss).
    """
    _check_reduction(reduction)
    d = _finite_param("delta", delta)
    if d <= 0:
        raise ValueError(f"delta must be positive, got {delta!r}")

    def term(x, y):
        z = abs(x - y)
        return z * z / 2 if z < d else d * (z - d / 2)

    terms = _map(term, _mp(input), _mp(target))
    if weight is not None:
        w = _mp(weight)
        if w.shape != np.shape(input):
            raise ValueError(f"weight shape {w.shape} must equal input shape {np.shape(input)}")
        terms = _map(lambda t, wi: wi * t, terms, w)
    return _reduce(terms, reduction)
