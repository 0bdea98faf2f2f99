"""The 60-digit mpmath transcription of ``bce_with_logits`` (see :mod:`refimpl.exact`): it verifies ``refimpl.bce_with_logits``."""

from __future__ import annotations

import numpy as np

from ._common import _ONE, _check_bce_shape, _check_reduction, _high_precision, _map, _mp, _reduce, _scalar, _softplus


@_high_precision
def bce_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None) -> np.ndarray:
    """Binary cross entropy on logits; torch.nn.functional.binary_cross_entropy_with_logits
    (ATen ``binary_cross_entropy_with_logits``).

        term = -w (pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))
             =  w (pw t softplus(-x) + (1 - t) softplus(x))

    using -log sigmoid(x) = log(1 + exp(-x)) = softplus(-x) and
    -log(1 - sigmoid(x)) = softplus(x) (exact identities).  ``pos_weight`` (pw,
    default 1) and ``weight`` (w, default 1) broadcast against the input like numpy.
    """
    _check_reduction(reduction)
    _check_bce_shape(input, target)
    x, t = _mp(input), _mp(target)
    pw = _scalar(_ONE) if pos_weight is None else _mp(pos_weight)
    w = _scalar(_ONE) if weight is None else _mp(weight)
    out_shape = np.broadcast_shapes(x.shape, pw.shape, w.shape)
    if out_shape != x.shape:
        raise ValueError(f"weight / pos_weight must broadcast to the input shape {x.shape}")
    terms = _map(lambda xi, ti, pwi, wi: wi * (pwi * ti * _softplus(-xi) + (1 - ti) * _softplus(xi)), x, t, pw, w)
    return _reduce(terms, reduction)
