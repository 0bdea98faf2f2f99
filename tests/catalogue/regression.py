"""Catalogue implementations of the regression losses: mse, huber, smooth_l1.

Correct alternatives first, then the deliberately buggy ones (each docstring starts with BUG).
"""

from __future__ import annotations

import torch
from torch import nn

from ._support import broadcast_pair, check_param, check_reduction, opmath, reduce

# ============================================================================ mse


def mse_loss(input, target, reduction="mean", weight=None):
    """Correct MSE (full contract, incl. torch>=2.6's ``weight``): explicit residual squared, the
    weighted mean divided by sum(w); half types computed in float32 and cast back.  Differs from
    torch by computing ``r * r`` on an explicitly broadcast residual instead of ATen's fused kernel."""
    check_reduction(reduction)
    x, y = broadcast_pair(opmath(input), opmath(target))
    r = x - y
    terms = r * r
    if weight is not None:
        if weight.shape != input.shape:
            raise ValueError(f"mse_loss: weight shape {tuple(weight.shape)} must equal input shape {tuple(input.shape)}")
        w = opmath(weight).to(terms.dtype)
        terms = terms * w
        if reduction == "mean":
            return (terms.sum() / w.sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def mse_unweighted(input, target, reduction="mean"):
    """Correct MSE accepting only ``reduction`` (no ``weight``: the gate skips the weighted cases):
    ``(input - target).pow(2)`` reduced with torch.mean / torch.sum."""
    check_reduction(reduction)
    x, y = broadcast_pair(opmath(input), opmath(target))
    sq = (x - y).pow(2)
    out = sq if reduction == "none" else (torch.sum(sq) if reduction == "sum" else torch.mean(sq))
    return out.to(input.dtype)


class _SquaredError(torch.autograd.Function):
    """(x - y)^2 reduced, with a hand-written backward (as fused or custom CUDA losses have);
    ``upstream``: how the backward uses its incoming gradient g."""

    @staticmethod
    def forward(ctx, x, y, reduction, upstream):
        r = x - y
        ctx.save_for_backward(r)
        ctx.reduction, ctx.upstream = reduction, upstream
        sq = r * r
        return sq if reduction == "none" else (sq.sum() if reduction == "sum" else sq.mean())

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        d = 2 * r / (r.numel() if ctx.reduction == "mean" else 1)
        if ctx.upstream == "ignored":
            gd = d  # BUG: the incoming gradient is never applied
        elif ctx.upstream == "averaged":
            gd = d * g.mean()  # BUG: one number for every element
        else:
            gd = d * g
        return gd, -gd, None, None


def _hand_written_mse(input, target, reduction, upstream):
    check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError("mse: input and target must have the same shape")
    return _SquaredError.apply(opmath(input), opmath(target), reduction, upstream).to(input.dtype)


def mse_backward_ignores_grad_output(input, target, reduction="mean"):
    """BUG (gradient only): a hand-written backward that returns d(loss)/dx without multiplying by the
    incoming gradient -- right when the loss is the last op (backward of ones, what ``loss.backward()``
    sends), wrong under any scaling (loss weights, AMP's loss scaler, a sum of losses)."""
    return _hand_written_mse(input, target, reduction, "ignored")


def mse_backward_averages_grad_output(input, target, reduction="mean"):
    """BUG (gradient only, 'none'): a hand-written backward that scales every element by the mean of
    the incoming gradient instead of its own element (a mis-broadcast ``g.mean()``): right for ones."""
    return _hand_written_mse(input, target, reduction, "averaged")


def mse_pairs_equal_numel(input, target, reduction="mean"):
    """BUG: input and target holding the same number of elements are paired in memory order
    (``reshape(-1)`` on both) instead of broadcast; other shapes broadcast.  What THNN's
    MSECriterion did (pytorch/pytorch#4938: ``mse_loss(x.view(2, 1), y.view(2, 1, 1, 1))`` returned 1
    where the broadcast mean is 1.5) and what the (N, 1) prediction against an (N,) target of
    pytorch/pytorch#16045 silently means: the contract forms the (N, N) broadcast."""
    check_reduction(reduction)
    x, y = opmath(input), opmath(target)
    if x.numel() == y.numel():
        terms = ((x.reshape(-1) - y.reshape(-1)) ** 2).reshape(input.shape)
    else:
        x, y = broadcast_pair(x, y)
        terms = (x - y) ** 2
    return reduce(terms, reduction).to(input.dtype)


def mse_mean_over_batch(input, target, reduction="mean"):
    """BUG: 'mean' divides the sum of squared errors by the batch size ``input.shape[0]`` instead of
    the number of elements (right only for 0-d and 1-D inputs)."""
    check_reduction(reduction)
    x, y = broadcast_pair(opmath(input), opmath(target))
    terms = (x - y) ** 2
    if reduction == "none":
        out = terms
    elif reduction == "sum":
        out = terms.sum()
    else:
        out = terms.sum() / (x.shape[0] if x.dim() else 1)
    return out.to(input.dtype)


def mse_returns_python_float(input, target, reduction="mean"):
    """BUG: a reduced loss is returned as a Python float (``.item()``): no tensor, no dtype, no
    device, and no autograd graph."""
    check_reduction(reduction)
    x, y = broadcast_pair(opmath(input), opmath(target))
    terms = (x - y) ** 2
    if reduction == "none":
        return terms.to(input.dtype)
    return (terms.sum() if reduction == "sum" else terms.mean()).item()


class MSEWeightedMeanOverNumel(nn.Module):
    """BUG (nn.Module): the weighted 'mean' divides sum(w (x - y)^2) by the number of elements (the
    huber_loss convention) instead of by sum(w), which torch>=2.6's mse_loss uses."""

    def __init__(self, reduction="mean", weight=None):
        super().__init__()
        check_reduction(reduction)
        self.reduction, self.weight = reduction, weight

    def forward(self, input, target):
        x, y = broadcast_pair(opmath(input), opmath(target))
        terms = (x - y) ** 2
        if self.weight is not None:
            terms = terms * opmath(self.weight)
        return reduce(terms, self.reduction).to(input.dtype)


class _MSEFunction(torch.autograd.Function):
    """Squared error with a hand-written backward."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return reduce((x - y) * (x - y), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = 2 * (x - y) * grad  # BUG: no 1 / numel for reduction='mean'
        return g, -g, None


class MSECustomBackward(nn.Module):
    """BUG (nn.Module, custom autograd.Function): the hand-written backward returns 2 (x - y) * grad
    for every reduction, forgetting the 1/numel of 'mean' -- the value is right, the gradient is
    numel times too large."""

    def __init__(self, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):
        x, y = broadcast_pair(opmath(input), opmath(target))
        return _MSEFunction.apply(x, y, self.reduction).to(input.dtype)


class _WeightedSquaredError(torch.autograd.Function):
    """w (x - y)^2 with a hand-written backward that treats the weight as a constant."""

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        ctx.save_for_backward(x, y, w)
        ctx.reduction = reduction
        terms = (x - y) * (x - y) * w
        return terms.sum() / w.sum() if reduction == "mean" else reduce(terms, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w = ctx.saved_tensors
        g = 2 * (x - y) * w * grad
        if ctx.reduction == "mean":
            g = g / w.sum()
        return g, -g, None, None  # BUG: no gradient for the weight


def mse_weight_no_gradient(input, target, reduction="mean", weight=None):
    """BUG (custom autograd.Function, as geomloss's solve_sample, jeanfeydy/geomloss#93): the value and
    the gradients w.r.t. input and target are right (the weighted mean over sum(w) included), but the
    hand-written backward returns None for ``weight`` -- a learnt or data-dependent weighting gets no
    gradient (the exact one is l_j gbar_j, or (l_j - L) g / sum(w) for 'mean')."""
    check_reduction(reduction)
    x, y = broadcast_pair(opmath(input), opmath(target))
    if weight is None:
        return reduce((x - y) * (x - y), reduction).to(input.dtype)
    if weight.shape != input.shape:
        raise ValueError(f"mse_loss: weight shape {tuple(weight.shape)} must equal input shape {tuple(input.shape)}")
    return _WeightedSquaredError.apply(x, y, opmath(weight).to(x.dtype), reduction).to(input.dtype)


# ============================================================================ huber


def _huber_terms(r, delta):
    """0.5 r^2 for |r| < delta (squared from r itself, so the second derivative at r = 0 is 1, not
    abs''s 0), delta (|r| - delta/2) otherwise."""
    z = r.abs()
    return torch.where(z < delta, 0.5 * r * r, delta * (z - 0.5 * delta))


class HuberLoss(nn.Module):
    """Correct Huber loss as an nn.Module (full contract: reduction, delta > 0, torch>=2.6's
    ``weight`` with mean = mean(w l)).  Differs from torch by selecting the two branches with
    torch.where on |x - y| instead of ATen's pointwise kernel."""

    def __init__(self, reduction="mean", delta=1.0, weight=None):
        super().__init__()
        check_reduction(reduction)
        self.delta = check_param("delta", delta, lo=0.0, lo_open=True)
        self.reduction, self.weight = reduction, weight

    def forward(self, input, target):
        x, y = broadcast_pair(opmath(input), opmath(target))
        terms = _huber_terms(x - y, self.delta)
        if self.weight is not None:
            if self.weight.shape != input.shape:
                raise ValueError(f"huber_loss: weight shape {tuple(self.weight.shape)} must equal input shape "
                                 f"{tuple(input.shape)}")
            terms = terms * opmath(self.weight).to(terms.dtype)
        return reduce(terms, self.reduction).to(input.dtype)


def huber_missing_delta_factor(input, target, reduction="mean", delta=1.0):
    """BUG: the linear branch is ``|r| - delta/2`` (SmoothL1's) instead of ``delta (|r| - delta/2)``:
    right only for delta = 1."""
    check_reduction(reduction)
    delta = check_param("delta", delta, lo=0.0, lo_open=True)
    x, y = broadcast_pair(opmath(input), opmath(target))
    r = x - y
    z = r.abs()
    terms = torch.where(z < delta, 0.5 * r * r, z - 0.5 * delta)
    return reduce(terms, reduction).to(input.dtype)


def huber_detached_quadratic(input, target, reduction="mean", delta=1.0):
    """BUG: the quadratic branch is ``0.5 * r * r.detach()`` (a 'stop-gradient' left over from
    debugging): the value is right, but the gradient there is r/2 instead of r."""
    check_reduction(reduction)
    delta = check_param("delta", delta, lo=0.0, lo_open=True)
    x, y = broadcast_pair(opmath(input), opmath(target))
    r = x - y
    z = r.abs()
    terms = torch.where(z < delta, 0.5 * r * r.detach(), delta * (z - 0.5 * delta))
    return reduce(terms, reduction).to(input.dtype)


def huber_unknown_reduction_sums(input, target, reduction="mean", delta=1.0):
    """BUG: any reduction string other than 'none' and 'mean' silently falls through to the sum
    (reduction='avg' returns a number instead of raising)."""
    delta = check_param("delta", delta, lo=0.0, lo_open=True)
    x, y = broadcast_pair(opmath(input), opmath(target))
    terms = _huber_terms(x - y, delta)
    if reduction == "none":
        out = terms
    elif reduction == "mean":
        out = terms.mean()
    else:
        out = terms.sum()
    return out.to(input.dtype)


# ============================================================================ smooth_l1


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Correct SmoothL1 (full contract; beta = 0 is L1 with an L1 gradient, no 1/beta): the
    quadratic branch as (r/2)(r/beta), which avoids squaring before the division (and, from r itself
    rather than |r|, keeps the second derivative 1/beta at r = 0)."""
    check_reduction(reduction)
    beta = check_param("beta", beta, lo=0.0)
    x, y = broadcast_pair(opmath(input), opmath(target))
    r = x - y
    z = r.abs()
    if beta == 0.0:
        terms = z
    else:
        terms = torch.where(z < beta, (0.5 * r) * (r / beta), z - 0.5 * beta)
    return reduce(terms, reduction).to(input.dtype)


def smooth_l1_beta0_nan_grad(input, target, reduction="mean", beta=1.0):
    """BUG: no special case for beta = 0: the unused quadratic branch 0.5 z^2 / 0 is inf/NaN, and
    torch.where's backward multiplies its zero gradient through the division by 0: the value is
    right (L1) but the gradient is NaN (the old torch bug pytorch#96813)."""
    check_reduction(reduction)
    beta = check_param("beta", beta, lo=0.0)
    x, y = broadcast_pair(opmath(input), opmath(target))
    r = x - y
    z = r.abs()
    terms = torch.where(z < beta, 0.5 * r * r / beta, z - 0.5 * beta)
    return reduce(terms, reduction).to(input.dtype)


def smooth_l1_mean_sums_in_input_dtype(input, target, reduction="mean", beta=1.0):
    """BUG: 'mean' as the sum of the terms in the input dtype divided by their number afterwards, the
    way chainer's F.mean_absolute_error did (chainer#6702: ``abs_diff.sum() / diff.size`` in float16):
    the sum overflows float16 (65504) where the mean fits -- 4096 absolute errors of 40 give inf for
    a mean of 40.  Right in every other dtype, for 'sum' and 'none', and for short inputs."""
    check_reduction(reduction)
    beta = check_param("beta", beta, lo=0.0)
    x, y = broadcast_pair(input, target)
    r = x - y
    z = r.abs()
    terms = z if beta == 0.0 else torch.where(z < beta, (0.5 * r) * (r / beta), z - 0.5 * beta)
    if reduction == "mean":
        return terms.sum() / terms.numel()
    return reduce(terms, reduction)


def smooth_l1_flattens_with_view(input, target, reduction="mean", beta=1.0):
    """BUG: flattens its inputs with ``.view(-1)``, which raises on non-contiguous (transposed,
    expanded, strided) inputs of 2 or more dimensions."""
    check_reduction(reduction)
    beta = check_param("beta", beta, lo=0.0)
    x, y = opmath(input).view(-1), opmath(target).view(-1)
    r = x - y
    z = r.abs()
    terms = z if beta == 0 else torch.where(z < beta, (0.5 * r) * (r / beta), z - 0.5 * beta)
    return reduce(terms.view(input.shape), reduction).to(input.dtype)


class SmoothL1BetaMultiplied(nn.Module):
    """BUG (nn.Module): the quadratic branch multiplies by beta (0.5 z^2 beta) instead of dividing
    (0.5 z^2 / beta): right only for beta = 1 (and for beta = 0, L1)."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__()
        check_reduction(reduction)
        self.beta = check_param("beta", beta, lo=0.0)
        self.reduction = reduction

    def forward(self, input, target):
        x, y = broadcast_pair(opmath(input), opmath(target))
        r = x - y
        z = r.abs()
        terms = z if self.beta == 0 else torch.where(z < self.beta, 0.5 * r * r * self.beta, z - 0.5 * self.beta)
        return reduce(terms, self.reduction).to(input.dtype)
