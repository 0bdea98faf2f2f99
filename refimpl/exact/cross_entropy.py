"""The 60-digit mpmath transcription of ``cross_entropy`` (see :mod:`refimpl.exact`): it verifies ``refimpl.cross_entropy``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _ONE, _ZERO, _check_reduction, _div, _finite_param, _high_precision, _map, _mp, _reduce, _scalar, _sum


def _log_softmax(row) -> list:
    """log_softmax of one vector: log p_c = x_c - log sum_j exp(x_j).

    Evaluated through the exact identity
    ``log p_c = -log(sum_j exp(x_j - x_c)) = -log1p(sum_{j != c} exp(x_j - x_c))``,
    which never cancels (all summands are positive).
    """
    return [-mpmath.log1p(mpmath.fsum(mpmath.exp(xj - xc) for j, xj in enumerate(row) if j != c))
            for c, xc in enumerate(row)]


@_high_precision
def cross_entropy(
    input, target, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
) -> np.ndarray:
    """Cross entropy from logits; torch.nn.functional.cross_entropy
    (ATen ``cross_entropy_loss`` / ``nll_loss_nd`` / ``cross_entropy_loss_label_smoothing`` /
    ``cross_entropy_loss_prob_target``; label smoothing: Szegedy et al. 2016).

    input: (C,), (N, C) or (N, C, d1, ..., dk); the class dim is 0 for 1-D input, else 1.
    logp = log_softmax over the class dim; w = weight (ones if None); eps = label_smoothing.

    Class-index target (integer dtype, input shape without the class dim):
        nll_i    = -w[t_i] logp_i[t_i],   smooth_i = -sum_c w_c logp_i[c]
        (both 0 where t_i == ignore_index)
        'none':  (1 - eps) nll_i + (eps / C) smooth_i
        'sum':   (1 - eps) sum nll + (eps / C) sum smooth
        'mean':  D = sum_{i not ignored} w[t_i];
                 (1 - eps) sum(nll) / D + (eps / C) sum(smooth) / D   (all ignored -> nan)

    Class-probability target (floating dtype, shape of input):
        t' = t (1 - eps) + eps / C;   loss_i = -sum_c w_c t'_c logp_i[c]
        'mean' = sum_i loss_i / (input.size / C)   (sample count, even with weight)
        A non-default ignore_index is rejected (torch raises for floating targets).
    """
    _check_reduction(reduction)
    eps = _finite_param("label_smoothing", label_smoothing)
    if not 0 <= eps <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    x = _mp(input)
    if x.ndim == 0:
        raise ValueError("cross_entropy input must have at least one dimension")
    class_axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_axis]
    w = [_ONE] * n_classes if weight is None else list(_mp(weight).reshape(-1))
    if len(w) != n_classes or (weight is not None and np.ndim(weight) != 1):
        raise ValueError(f"weight must have shape ({n_classes},), got {np.shape(weight)}")
    # class axis moved last: one row of C logits per sample position
    x_rows = np.moveaxis(x, class_axis, -1)
    sample_shape = x_rows.shape[:-1]
    logp = {idx: _log_softmax(x_rows[idx]) for idx in np.ndindex(sample_shape)}
    C = mpmath.mpf(n_classes)

    t_arr = np.asarray(target)
    if np.issubdtype(t_arr.dtype, np.floating):
        # ---- class probabilities
        if t_arr.shape != x.shape:
            raise ValueError(f"probability target shape {t_arr.shape} must equal input shape {x.shape}")
        if ignore_index != -100:
            raise ValueError("ignore_index is not supported for probability (floating) targets")
        t_rows = np.moveaxis(_mp(t_arr), class_axis, -1)
        terms = np.empty(sample_shape, dtype=object)
        for idx in np.ndindex(sample_shape):
            t = [tc * (1 - eps) + eps / C for tc in t_rows[idx]] if eps > 0 else list(t_rows[idx])
            terms[idx] = -mpmath.fsum(wc * tc * lc for wc, tc, lc in zip(w, t, logp[idx]))
        if reduction == "mean":
            return _scalar(_div(_sum(terms), mpmath.mpf(x.size // n_classes) if n_classes else _ZERO))
        return _reduce(terms, reduction)

    if not np.issubdtype(t_arr.dtype, np.integer):
        raise ValueError(f"target must have an integer (class index) or floating (probability) dtype, got {t_arr.dtype}")
    # ---- class indices
    if t_arr.shape != sample_shape:
        raise ValueError(f"index target shape {t_arr.shape} must equal {sample_shape}")
    nll = np.empty(sample_shape, dtype=object)
    smooth = np.empty(sample_shape, dtype=object)
    denom = []
    for idx in np.ndindex(sample_shape):
        t = int(t_arr[idx])
        if t == ignore_index:
            nll[idx] = smooth[idx] = _ZERO
            continue
        if not 0 <= t < n_classes:
            raise ValueError(f"target index {t} out of range [0, {n_classes})")
        lp = logp[idx]
        nll[idx] = -w[t] * lp[t]
        smooth[idx] = -mpmath.fsum(wc * lc for wc, lc in zip(w, lp))
        denom.append(w[t])
    a, b = 1 - eps, eps / C
    if reduction == "none":
        return _map(lambda n, s: a * n + b * s, nll, smooth)
    if reduction == "sum":
        return _scalar(a * _sum(nll) + b * _sum(smooth))
    D = mpmath.fsum(denom)
    return _scalar(a * _div(_sum(nll), D) + b * _div(_sum(smooth), D))
