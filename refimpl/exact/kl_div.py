"""The 60-digit mpmath transcription of ``kl_div`` (see :mod:`refimpl.exact`): it verifies ``refimpl.kl_div``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _NAN, _REDUCTIONS, _check_reduction, _div, _high_precision, _map, _mp, _reduce, _scalar, _sum


@_high_precision
def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> np.ndarray:
    """Pointwise KL divergence; torch.nn.functional.kl_div (ATen ``kl_div``).

    input holds log-probabilities x.
        log_target=False: term = t (log t - x)   (0 for t == 0 whatever x, x = -inf included;
                                                  t < 0 gives nan)
        log_target=True:  term = exp(t) (t - x)  (0 for t == -inf)
    Reductions: 'none', 'sum', 'mean' (sum / number of elements), 'batchmean'
    (sum / input.shape[0]; sum for a 0-d input).  input and target broadcast.
    """
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))

    def term(x, t):
        if log_target:
            if t == mpmath.ninf:  # exp(t) = 0: contributes 0 (NaN input stays NaN)
                return _NAN if mpmath.isnan(x) else mpmath.mpf(0)
            return mpmath.exp(t) * (t - x)
        if mpmath.isnan(t) or t < 0:
            return _NAN
        if t == 0:  # 0 log(0 / q) = 0 for every q, q = 0 (x = -inf) included; NaN stays NaN
            return _NAN if mpmath.isnan(x) else mpmath.mpf(0)
        return t * (mpmath.log(t) - x)

    terms = _map(term, _mp(input), _mp(target))
    if reduction != "batchmean":
        return _reduce(terms, reduction)
    total = _sum(terms)
    if np.ndim(input) == 0:
        return _scalar(total)
    return _scalar(_div(total, mpmath.mpf(np.shape(input)[0])))
