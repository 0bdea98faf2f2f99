"""Gradient of ``refimpl.triplet_margin`` (``torch.nn.functional.triplet_margin_loss``).

With d(u, v) = ||u - v + eps||_p and g(w) = d||w||_p / dw (see
``refimpl.grad._common.pnorm_grad``: ``sign(w) (|w|/d)^(p-1)``), per row:

    term = max(0, margin + d(a, p) - d_neg),  d_neg = d(a, n) or, with swap,
           min(d(a, n), d(p, n)) = lam_an d(a, n) + lam_pn d(p, n) locally
    active = margin + d(a, p) - d_neg >= 0
    d/da = active (g(a - p + eps) - lam_an g(a - n + eps))
    d/dp = active (-g(a - p + eps) - lam_pn g(p - n + eps))
    d/dn = active (lam_an g(a - n + eps) + lam_pn g(p - n + eps))
    times gbar = grad_output ('none'), g ('sum'), g / N ('mean').

Conventions (torch's autograd through ATen ``triplet_margin_loss``, verified against
derivatives.yaml / FunctionsManual.cpp):
* hinge: ``clamp_min(arg, 0)`` backward is ``where(arg >= 0, grad, 0)``: at arg == 0
  exactly the gradient passes (active).
* swap: ``at::min`` = ``minimum``, whose backward splits a tie: lam = 1/2 each when
  d(a, n) == d(p, n); otherwise lam = 1 for the smaller, 0 for the other.
* ``pairwise_distance`` is ``norm(u - v + eps, p)``: eps is added to the difference,
  so the gradient is g at the shifted difference; norm_backward gives 0 for a zero
  distance and 0 for a zero component (p < 1 included, where the power is infinite).
mag: ``|g_ap| + lam_an |g_an|`` (anchor), ``|g_ap| + lam_pn |g_pn|`` (positive),
``lam_an |g_an| + lam_pn |g_pn|`` (negative), times active |gbar|; for p other than 1 and
2 each |g| is multiplied by ``2 + |p - 1| (|ln |w_k|| + |ln d|)``: torch's
``|w|^(p-1) / d^(p-1)`` takes two ``pow``s whose relative error grows with the
logarithm of their argument (a rounded ``p - 1``, an ``exp(y ln x)`` kernel).
"""

from __future__ import annotations

import numpy as np

from .. import triplet_margin as _reference
from .._common import as_f64
from ..triplet_margin import _shifted_difference, pairwise_distance
from ._common import expand_rows, pack, pnorm_grad, per_term

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('anchor', 'positive', 'negative')



def triplet_margin(
    anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
    swap: bool = False, reduction: str = "mean", grad_output=None,
) -> dict:
    """Gradient (VJP) of :func:`refimpl.triplet_margin`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

    Per row, w_uv = u - v + eps, d(u, v) = ||w_uv||_p, g(w) = sign(w) (|w| / d)^(p-1) (0 for a zero distance
    or a zero component: torch's norm_backward); s = gbar where margin + d(a, pos) - d_neg >= 0 (the hinge
    passes at 0), else 0; gbar = grad_output ('none'), g ('sum'), g / N ('mean'):
        d/da   = s (g(w_ap) - lam_an g(w_an))
        d/dpos = s (-g(w_ap) - lam_pn g(w_pn))
        d/dn   = s (lam_an g(w_an) + lam_pn g(w_pn))
        lam_an = 1, lam_pn = 0 without swap; with swap 1 / 0 for the smaller of d(a, n), d(pos, n), 1/2 each on a tie

    Parameters:
        anchor, positive, negative, margin, p, eps, swap, reduction: as for :func:`refimpl.triplet_margin`,
            which is called to validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: (N,) or 0-d.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "anchor", "positive", "negative" (their common shape), plus
    "<name>__mag" for each, a non-negative magnitude for the rounding-error bound K u mag
    (``refimpl.grad._common``): the same sums with every g in absolute value, times |s|; for p not 1 or 2
    each |g| times 2 + |p - 1| (|ln |w_k|| + |ln d|) (torch's two pows).
    Source: autograd through ATen ``triplet_margin_loss`` / ``pairwise_distance`` (FunctionsManual.cpp).
    """
    _reference(anchor, positive, negative, margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)  # validates
    margin, p, eps = float(margin), float(p), float(eps)
    a, pos, neg = as_f64("anchor", anchor), as_f64("positive", positive), as_f64("negative", negative)

    def dist_and_grad(u, v):
        d = pairwise_distance(u, v, p, eps)
        w = _shifted_difference(u, v, eps)
        g = pnorm_grad(w, d, p)
        if p in (1.0, 2.0):
            return d, g, np.abs(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.abs(np.log(np.abs(w))) + expand_rows(np.abs(np.log(d)))
            return d, g, np.where(g == 0, 0.0, np.abs(g) * (2.0 + abs(p - 1.0) * logs))

    d_ap, g_ap, m_ap = dist_and_grad(a, pos)
    d_an, g_an, m_an = dist_and_grad(a, neg)
    if swap:
        d_pn, g_pn, m_pn = dist_and_grad(pos, neg)
        d_neg = np.minimum(d_an, d_pn)
        lam_an = np.where(d_an == d_pn, 0.5, np.where(d_an < d_pn, 1.0, 0.0))
    else:
        g_pn, m_pn, d_neg = np.zeros(a.shape), np.zeros(a.shape), d_an
        lam_an = np.ones(d_an.shape)
    lam_pn = 1.0 - lam_an
    gbar = per_term(grad_output, reduction, d_ap.shape)
    with np.errstate(invalid="ignore"):
        active = (margin + d_ap - d_neg) >= 0
    s = expand_rows(np.where(active, gbar, 0.0))
    la, lp = expand_rows(lam_an), expand_rows(lam_pn)
    abs_ap, abs_an, abs_pn = m_ap, la * m_an, lp * m_pn
    return pack(
        anchor=((g_ap - la * g_an) * s, (abs_ap + abs_an) * np.abs(s)),
        positive=((-g_ap - lp * g_pn) * s, (abs_ap + abs_pn) * np.abs(s)),
        negative=((la * g_an + lp * g_pn) * s, (abs_an + abs_pn) * np.abs(s)),
    )
