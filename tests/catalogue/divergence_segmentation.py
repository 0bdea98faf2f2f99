"""Catalogue implementations of kl_div and the soft Dice loss (MONAI DiceLoss conventions).

Correct alternatives first in each section, then the deliberately buggy ones (docstrings start with BUG).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ._support import broadcast_pair, check_param, check_reduction, opmath, reduce, same_shape

# ============================================================================ kl_div

KL_REDUCTIONS = ("none", "mean", "sum", "batchmean")


def _kl_reduce(terms, x, reduction):
    if reduction != "batchmean":
        return reduce(terms, reduction)
    total = terms.sum()
    return total if x.dim() == 0 else total / x.shape[0]


def _kl_terms(x, t, log_target):
    """t (log t - x), or exp(t) (t - x) for log-targets; a zero target probability (t = 0, or
    t = -inf for log-targets) contributes exactly 0 whatever x, except that a NaN input stays NaN."""
    zero_term = torch.where(torch.isnan(x), x, torch.zeros_like(x))
    if log_target:
        gone = t == float("-inf")
        t_safe = torch.where(gone, torch.zeros_like(t), t)
        return torch.where(gone, zero_term, torch.exp(t_safe) * (t_safe - x))
    gone = t == 0
    t_safe = torch.where(gone, torch.ones_like(t), t)
    return torch.where(gone, zero_term, t * (torch.log(t_safe) - x))


def kl_div(input, target, reduction="mean", log_target=False):
    """Correct KL divergence (full contract: log_target; none / mean (sum / numel) / sum / batchmean).
    Differs from torch's xlogy(t, t) - t x: terms as t (log t - x), with the KL convention
    0 log(0 / q) = 0 also where the input is -inf (torch gives NaN there; known deviation
    kl_div_zero_target_neg_inf_input), and no warning for 'mean'.  Input and target broadcast."""
    check_reduction(reduction, KL_REDUCTIONS)
    x, t = broadcast_pair(opmath(input), opmath(target).to(opmath(input).dtype))  # torch broadcasts, silently
    terms = _kl_terms(x, t, bool(log_target))
    return _kl_reduce(terms, input, reduction).to(input.dtype)  # batchmean: input's own first dim


def kl_batchmean_over_numel(input, target, reduction="mean", log_target=False):
    """BUG: 'batchmean' divides the sum by the number of elements (what 'mean' does) instead of by
    the batch size input.shape[0]."""
    check_reduction(reduction, KL_REDUCTIONS)
    same_shape("kl_div", input, target)
    x = opmath(input)
    terms = _kl_terms(x, opmath(target).to(x.dtype), bool(log_target))
    out = terms.mean() if reduction == "batchmean" else reduce(terms, reduction)
    return out.to(input.dtype)


def kl_input_as_probabilities(input, target, reduction="mean", log_target=False):
    """BUG: treats the input as probabilities q and takes its log again, t (log t - log q), where
    torch's convention is that the input already holds log q: NaN for every negative log-probability."""
    check_reduction(reduction, KL_REDUCTIONS)
    same_shape("kl_div", input, target)
    x = opmath(input)
    terms = _kl_terms(torch.log(x), opmath(target).to(x.dtype), bool(log_target))
    return _kl_reduce(terms, x, reduction).to(input.dtype)


class KLDivNaiveZeroTarget(nn.Module):
    """BUG (nn.Module): t * log(t) - t * x with no zero-target convention: 0 * log 0 = 0 * (-inf) =
    NaN for every zero target probability (torch uses xlogy, which gives 0)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__()
        check_reduction(reduction, KL_REDUCTIONS)
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        same_shape("kl_div", input, target)
        x, t = opmath(input), opmath(target)
        terms = torch.exp(t) * (t - x) if self.log_target else t * torch.log(t) - t * x
        return _kl_reduce(terms, x, self.reduction).to(input.dtype)


def kl_ignores_log_target(input, target, reduction="mean", log_target=False):
    """BUG: accepts log_target but ignores it, always reading the target as probabilities."""
    check_reduction(reduction, KL_REDUCTIONS)
    same_shape("kl_div", input, target)
    x = opmath(input)
    terms = _kl_terms(x, opmath(target).to(x.dtype), False)
    return _kl_reduce(terms, x, reduction).to(input.dtype)


def kl_clamps_target_inplace(input, target, reduction="mean", log_target=False):
    """BUG (mutation): 'protects' log(0) with ``target.clamp_(min=tiny)``, which writes into the
    caller's target tensor (every zero probability becomes the dtype's smallest normal)."""
    check_reduction(reduction, KL_REDUCTIONS)
    same_shape("kl_div", input, target)
    if not log_target:
        target.clamp_(min=torch.finfo(target.dtype).tiny)
    x = opmath(input)
    terms = _kl_terms(x, opmath(target).to(x.dtype), bool(log_target))
    return _kl_reduce(terms, x, reduction).to(input.dtype)


# ============================================================================ dice

SINGLE_CHANNEL_WARNING = "single channel prediction, `include_background=False` ignored."


def check_dice_arguments(input, target, smooth_nr, smooth_dr, reduction):
    """The Dice contract's argument checks; the smoothing constants as floats."""
    check_reduction(reduction)
    smooth_nr = check_param("smooth_nr", smooth_nr, lo=0.0)
    smooth_dr = check_param("smooth_dr", smooth_dr, lo=0.0)
    same_shape("dice", input, target)
    if input.dim() < 2:
        raise ValueError(f"dice: input must have shape (N, C, *spatial), got {tuple(input.shape)}")
    return smooth_nr, smooth_dr


def _dice_parts(input, target, smooth_nr, smooth_dr, include_background, batch, reduction):
    smooth_nr, smooth_dr = check_dice_arguments(input, target, smooth_nr, smooth_dr, reduction)
    p = opmath(input)
    g = opmath(target).to(p.dtype)
    if not include_background:
        if p.shape[1] == 1:
            warnings.warn(SINGLE_CHANNEL_WARNING, stacklevel=3)
        else:
            p, g = p[:, 1:], g[:, 1:]
    dims = list(range(2, p.dim())) + ([0] if batch else [])
    return p, g, dims, smooth_nr, smooth_dr


def _sum(v, dims):
    return v.sum(dim=dims) if dims else v


def dice(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False, include_background=True, batch=False,
         reduction="mean"):
    """Correct soft Dice loss (full contract, MONAI DiceLoss on probabilities):
    1 - (2 sum p g + smooth_nr) / (sum p^k + sum g^k + smooth_dr) per (n, c) -- per c with batch=True --,
    include_background=False dropping channel 0 unless C = 1 (then a warning, as MONAI), 'none'
    giving (N, C) or (C,).  Differs from MONAI by summing with one explicit dim list and no
    one-hot / activation machinery."""
    p, g, dims, smooth_nr, smooth_dr = _dice_parts(input, target, smooth_nr, smooth_dr, include_background, batch,
                                                   reduction)
    inter = _sum(p * g, dims)
    if squared_pred:
        denom = _sum(p * p, dims) + _sum(g * g, dims)
    else:
        denom = _sum(p, dims) + _sum(g, dims)
    f = 1.0 - (2.0 * inter + smooth_nr) / (denom + smooth_dr)
    return reduce(f, reduction).to(input.dtype)


def dice_plain(input, target, reduction="mean"):
    """BUG (gradient accuracy): soft Dice accepting only ``reduction`` (MONAI defaults otherwise:
    smooth 1e-5, no squaring, background kept, per sample), written as the mismatch ratio
    (sum p (1 - g) + g (1 - p) + smooth_dr - smooth_nr) / (sum p + sum g + smooth_dr): its *value*
    is free of the 1 - ratio cancellation, but autograd differentiates the quotient as
    (1 - 2g)/den - mismatch/den^2, two terms of size 1/den whose difference, the true gradient,
    is smooth_nr/den^2 at p = 1, g = 0 (1e-5): 1e-3 relative off in float32.  (The gate used to
    skip every case of this plug-in that set a smoothing constant; checked at the contract's
    defaults, its gradient is found.)"""
    p, g, dims, nr, dr = _dice_parts(input, target, 1e-5, 1e-5, True, False, reduction)
    mismatch = _sum(p * (1 - g) + g * (1 - p), dims)
    f = (mismatch + (dr - nr)) / (_sum(p, dims) + _sum(g, dims) + dr)
    return reduce(f, reduction).to(input.dtype)


def dice_smooth_swapped(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False, include_background=True,
                        batch=False, reduction="mean"):
    """BUG: the smoothing terms are swapped, smooth_dr in the numerator and smooth_nr in the
    denominator (only visible when they differ -- and smooth_nr = 0 then divides 0 by 0)."""
    p, g, dims, smooth_nr, smooth_dr = _dice_parts(input, target, smooth_nr, smooth_dr, include_background, batch,
                                                   reduction)
    inter = _sum(p * g, dims)
    denom = _sum(p * p, dims) + _sum(g * g, dims) if squared_pred else _sum(p, dims) + _sum(g, dims)
    f = 1.0 - (2.0 * inter + smooth_dr) / (denom + smooth_nr)
    return reduce(f, reduction).to(input.dtype)


def dice_batch_ignored(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False, include_background=True,
                       batch=False, reduction="mean"):
    """BUG: accepts ``batch`` but always computes per-sample Dice (never pools the batch before the
    ratio; 'none' is (N, C) instead of (C,) with batch=True)."""
    p, g, dims, smooth_nr, smooth_dr = _dice_parts(input, target, smooth_nr, smooth_dr, include_background, False,
                                                   reduction)
    inter = _sum(p * g, dims)
    denom = _sum(p * p, dims) + _sum(g * g, dims) if squared_pred else _sum(p, dims) + _sum(g, dims)
    f = 1.0 - (2.0 * inter + smooth_nr) / (denom + smooth_dr)
    return reduce(f, reduction).to(input.dtype)


class DiceSquaredPredTargetNotSquared(nn.Module):
    """BUG (nn.Module): with squared_pred=True squares only the prediction (sum p^2 + sum g), where
    MONAI squares both (sum p^2 + sum g^2): wrong for soft targets."""

    def __init__(self, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False, include_background=True, batch=False,
                 reduction="mean"):
        super().__init__()
        self.kw = dict(smooth_nr=smooth_nr, smooth_dr=smooth_dr, include_background=include_background, batch=batch,
                       reduction=reduction)
        self.squared_pred = squared_pred

    def forward(self, input, target):
        kw = self.kw
        p, g, dims, nr, dr = _dice_parts(input, target, kw["smooth_nr"], kw["smooth_dr"], kw["include_background"],
                                         kw["batch"], kw["reduction"])
        p_k = p * p if self.squared_pred else p
        f = 1.0 - (2.0 * _sum(p * g, dims) + nr) / (_sum(p_k, dims) + _sum(g, dims) + dr)
        return reduce(f, kw["reduction"]).to(input.dtype)


def dice_drops_single_channel(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False,
                              include_background=True, batch=False, reduction="mean"):
    """BUG: include_background=False always slices channel 0 off, even with a single channel (MONAI
    keeps it and warns): the loss of a 1-channel prediction becomes empty ('mean' NaN)."""
    check_reduction(reduction)
    same_shape("dice", input, target)
    if input.dim() < 2:
        raise ValueError("dice: input must have shape (N, C, *spatial)")
    p, g = opmath(input), opmath(target)
    if not include_background:
        p, g = p[:, 1:], g[:, 1:]
    dims = list(range(2, p.dim())) + ([0] if batch else [])
    smooth_nr = check_param("smooth_nr", smooth_nr, lo=0.0)
    smooth_dr = check_param("smooth_dr", smooth_dr, lo=0.0)
    inter = _sum(p * g, dims)
    denom = _sum(p * p, dims) + _sum(g * g, dims) if squared_pred else _sum(p, dims) + _sum(g, dims)
    f = 1.0 - (2.0 * inter + smooth_nr) / (denom + smooth_dr)
    return reduce(f, reduction).to(input.dtype)


def dice_squares_input_inplace(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False,
                               include_background=True, batch=False, reduction="mean"):
    """BUG (mutation): with squared_pred=True squares the caller's prediction in place
    (``input.pow_(2)``) to save a temporary -- and then also uses the squared values in the
    intersection."""
    if squared_pred:
        input.pow_(2)
    p, g, dims, smooth_nr, smooth_dr = _dice_parts(input, target, smooth_nr, smooth_dr, include_background, batch,
                                                   reduction)
    inter = _sum(p * g, dims)
    denom = _sum(p, dims) + _sum(g * g, dims) if squared_pred else _sum(p, dims) + _sum(g, dims)
    f = 1.0 - (2.0 * inter + smooth_nr) / (denom + smooth_dr)
    return reduce(f, reduction).to(input.dtype)
