"""The 60-digit mpmath transcription of ``hinge_embedding`` (see :mod:`refimpl.exact`): it verifies ``refimpl.hinge_embedding``."""

from __future__ import annotations

import numpy as np

from ._common import _ZERO, _check_reduction, _finite_param, _high_precision, _map, _mp, _reduce


@_high_precision
def hinge_embedding(input, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Hinge embedding loss; torch.nn.functional.hinge_embedding_loss (ATen ``hinge_embedding_loss``).

        term = where(t != 1, max(0, margin - x), 0) + where(t != -1, x, 0)

    i.e. x for t == 1 and max(0, margin - x) for t == -1 (transcribed with
    torch's where-form, so other target values follow torch).  Broadcasts.
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)

    def term(x, t):
        return (max(_ZERO, m - x) if t != 1 else _ZERO) + (x if t != -1 else _ZERO)

    return _reduce(_map(term, _mp(input), _mp(target)), reduction)
