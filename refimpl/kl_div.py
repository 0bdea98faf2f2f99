"""Kullback-Leibler divergence, mirroring ``torch.nn.functional.kl_div``.

The input is log-probabilities ``x = log q``; the target is probabilities ``t``
(or log-probabilities with ``log_target=True``):

    term_i = t_i (log t_i - x_i)          (0 when t_i = 0: 0 log(0/q) = 0, also for q = 0, x = -inf)
    term_i = exp(t_i) (t_i - x_i)         (log_target=True; 0 when t_i = -inf, likewise)

A NaN input still gives NaN.  torch evaluates ``xlogy(t, t) - t * x``, which is NaN
for t = 0 and x = -inf (0 * inf): a recorded known deviation.
    'sum' = sum_i term_i, 'mean' = sum / numel, 'batchmean' = sum / input.shape[0]
    (for a 0-d input batchmean is the sum).

Input and target broadcast (``torch.broadcast_tensors`` rules, silently: torch 2.13 gives no
warning); the terms, 'mean''s count and the gradients are the broadcast's, 'batchmean' divides by
the *input's* first dim (torch's ``input.size(0)``, even where the target broadcasts it).

Only 'batchmean' is KL(p || q) per sample; torch's 'mean' also divides by the
support size and warns (known deviation of the default from the mathematics).

Source: ATen ``kl_div`` (aten/src/ATen/native/Loss.cpp) and torch/nn/functional.py.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ._common import as_f64, broadcast_pair, check_reduction, reduce


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> np.ndarray:
    """Kullback-Leibler divergence; float64 reference of ``torch.nn.functional.kl_div``.

        term_i = t_i (log t_i - x_i)       (log_target=False; 0 where t_i = 0, also for x_i = -inf)
        term_i = exp(t_i) (t_i - x_i)      (log_target=True;  0 where t_i = -inf, likewise)
        (a NaN x_i gives NaN; torch's xlogy(t, t) - t x is NaN at t = 0, x = -inf: a known deviation)
        'sum' = sum_i term_i,  'mean' = sum / numel (of the broadcast terms),  'batchmean' = sum / input.shape[0]
    Only 'batchmean' is KL(t || q) per sample; torch's default 'mean' also divides by the support size.

    Parameters:
        input: x = log q, log-probabilities (a real array).
        target: t, probabilities (log-probabilities with log_target=True); broadcasts with the input.
        reduction: 'none', 'mean' (default), 'sum' or 'batchmean'.
        log_target: default False; True when the target holds log-probabilities.
    Returns a float64 ndarray: the terms (broadcast shape) for 'none', a 0-d array otherwise; 'batchmean'
    divides by the *input's* first dimension (the sum for a 0-d input, NaN when it is 0); an empty 'mean'
    is NaN.
    Raises ValueError for an unknown reduction, shapes that do not broadcast, or a non-numeric array.
    Source: ATen ``kl_div`` (aten/src/ATen/native/Loss.cpp) and torch/nn/functional.py ``kl_div``.
    """
    check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    x0 = as_f64("input", input)
    x, t = broadcast_pair(x0, as_f64("target", target))
    # a zero target probability contributes 0 whatever x (q = 0 included); NaN stays NaN
    zero_term = np.where(np.isnan(x), np.nan, 0.0)
    with np.errstate(invalid="ignore"):
        if log_target:
            terms = np.where(t == -np.inf, zero_term, np.exp(t) * (t - x))
        else:
            terms = np.where(t == 0, zero_term, xlogy(t, t) - t * x)
    if reduction != "batchmean":
        return reduce(terms, reduction)
    total = reduce(terms, "sum")
    if x0.ndim == 0:
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / x0.shape[0]) if x0.shape[0] else np.asarray(np.nan)
