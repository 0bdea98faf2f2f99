"""The 60-digit mpmath transcription of ``dice`` (see :mod:`refimpl.exact`): it verifies ``refimpl.dice``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _check_reduction, _div, _finite_param, _high_precision, _mp, _reduce, _rows, _xadd, _xdot


@_high_precision
def dice(
    input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, squared_pred: bool = False,
    include_background: bool = True, batch: bool = False, reduction: str = "mean",
) -> np.ndarray:
    """Soft Dice loss; MONAI ``monai.losses.DiceLoss`` conventions (Milletari et al. 2016, V-Net).

    input (p) and target (g): (N, C, *spatial).  include_background=False drops
    channel 0 when C > 1 (with C == 1 MONAI ignores the flag).  Sums run over
    the spatial axes, plus the batch axis if ``batch``:
        I = sum p g,  P = sum p^k,  G = sum g^k   (k = 2 if squared_pred else 1)
        f = 1 - (2 I + smooth_nr) / (P + G + smooth_dr)      shape (N, C), or (C,) if batch
    'none' -> f, 'mean' -> mean of f, 'sum' -> sum of f.

    1 - n/d is evaluated as (d - n)/d with n and d (hence d - n) formed in
    exact arithmetic, so f has full relative accuracy even when f ~ 0.
    """
    _check_reduction(reduction)
    s_nr, s_dr = _finite_param("smooth_nr", smooth_nr), _finite_param("smooth_dr", smooth_dr)
    p, g = _mp(input), _mp(target)
    if p.shape != g.shape or p.ndim < 2:
        raise ValueError(f"input and target must share one shape (N, C, *spatial), got {p.shape}, {g.shape}")
    if not include_background and p.shape[1] > 1:
        p, g = p[:, 1:], g[:, 1:]
    k = 2 if squared_pred else 1
    axes = tuple(range(2, p.ndim)) + ((0,) if batch else ())

    def f(pv, gv):
        n = _xadd(mpmath.fmul(2, _xdot(pv, gv), exact=True), s_nr)
        pk = [mpmath.fmul(v, v, exact=True) for v in pv] if k == 2 else list(pv)
        gk = [mpmath.fmul(v, v, exact=True) for v in gv] if k == 2 else list(gv)
        d = _xadd(*pk, *gk, s_dr)
        return _div(mpmath.fsub(d, n, exact=True), d)

    return _reduce(_rows(f, p, g, axes=axes), reduction)
