"""Catalogue implementations of the classification losses: cross_entropy, bce, bce_with_logits, focal.

Correct alternatives first in each section, then the deliberately buggy ones (docstrings start with BUG).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._support import check_param, check_reduction, opmath, reduce, same_shape, softplus

# ============================================================================ cross_entropy


def _class_axis(x):
    if x.dim() == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,)")
    return 0 if x.dim() == 1 else 1


def _neg_log_softmax(x, axis):
    """-log_softmax(x) along ``axis`` = log(sum exp(x - m)) - (x - m), m the (detached) row maximum:
    the value does not depend on m, so detaching it leaves the gradient exact (softmax - onehot)."""
    m = x.amax(dim=axis, keepdim=True).detach()
    d = x - m
    return torch.log(torch.exp(d).sum(dim=axis, keepdim=True)) - d


def _class_shape(x, axis):
    shape = [1] * x.dim()
    shape[axis] = x.shape[axis]
    return shape


def _ce_setup(input, weight, label_smoothing, reduction):
    check_reduction(reduction)
    eps = check_param("label_smoothing", label_smoothing, lo=0.0, hi=1.0)
    axis = _class_axis(input)
    n_classes = input.shape[axis]
    x = opmath(input)
    w_b = None
    if weight is not None:
        if weight.shape != (n_classes,):
            raise ValueError(f"cross_entropy: weight must have shape ({n_classes},), got {tuple(weight.shape)}")
        w_b = opmath(weight).to(x.dtype).reshape(_class_shape(x, axis))
    return x, axis, n_classes, w_b, eps


def _check_index_target(input, target, axis, n_classes, ignore_index):
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f"cross_entropy: class-index targets must be integers, got {target.dtype}")
    expected = input.shape[:axis] + input.shape[axis + 1:]
    if target.shape != expected:
        raise ValueError(f"cross_entropy: class-index target must have shape {tuple(expected)}, got {tuple(target.shape)}")
    ignored = target == ignore_index
    bad = ~ignored & ((target < 0) | (target >= n_classes))
    if bool(bad.any()):
        raise IndexError(f"cross_entropy: target {int(target[bad].flatten()[0])} is out of bounds for {n_classes} "
                         f"classes (and is not ignore_index={ignore_index})")
    return ignored


def _prob_terms(neglogp, q, w_b, axis, n_classes, eps):
    coef = q * (1.0 - eps) + eps / n_classes if eps > 0 else q
    if w_b is not None:
        coef = coef * w_b
    # 0 * inf (a -inf logit, probability 0) counts 0; elsewhere the product is left alone
    safe = neglogp.masked_fill((coef == 0) & torch.isinf(neglogp), 0.0)
    return (coef * safe).sum(dim=axis)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Correct cross-entropy (full contract: index and probability targets, (C,), (N,C), (N,C,d1..dk),
    weight, ignore_index, label_smoothing).  Differs from torch by building -log_softmax from
    exp / sum / log after subtracting a detached row maximum, selecting the target class with gather,
    and dividing the weighted mean explicitly by the sum of the non-ignored targets' weights."""
    x, axis, n_classes, w_b, eps = _ce_setup(input, weight, label_smoothing, reduction)
    neglogp = _neg_log_softmax(x, axis)
    if target.is_floating_point():
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index is not supported for probability (floating) targets")
        same_shape("cross_entropy probability targets", input, target)
        terms = _prob_terms(neglogp, opmath(target).to(x.dtype), w_b, axis, n_classes, eps)
        if reduction == "mean":
            n_samples = x.numel() // n_classes if n_classes else 0
            return (terms.sum() / n_samples).to(input.dtype)
        return reduce(terms, reduction).to(input.dtype)
    ignored = _check_index_target(input, target, axis, n_classes, ignore_index)
    t = target.masked_fill(ignored, 0)
    nll = neglogp.gather(axis, t.unsqueeze(axis)).squeeze(axis)
    wt = torch.ones_like(nll) if w_b is None else w_b.reshape(-1)[t]
    wt = wt.masked_fill(ignored, 0.0)
    nll = torch.where(ignored, torch.zeros_like(nll), wt * nll)
    if eps > 0:
        smooth = (neglogp if w_b is None else neglogp * w_b).sum(dim=axis)
        smooth = torch.where(ignored, torch.zeros_like(smooth), smooth)
        terms = (1.0 - eps) * nll + (eps / n_classes) * smooth
    else:
        terms = nll
    if reduction == "mean":
        return (terms.sum() / wt.sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def cross_entropy_plain(input, target, reduction="mean"):
    """Correct cross-entropy accepting only ``reduction`` (no weight / ignore_index / label_smoothing:
    the gate skips those cases), for index and probability targets: -log_softmax as
    ``torch.logsumexp(d) - d`` with d = x - max (detached)."""
    check_reduction(reduction)
    axis = _class_axis(input)
    n_classes = input.shape[axis]
    x = opmath(input)
    d = x - x.amax(dim=axis, keepdim=True).detach()
    neglogp = torch.logsumexp(d, dim=axis, keepdim=True) - d
    if target.is_floating_point():
        same_shape("cross_entropy probability targets", input, target)
        q = opmath(target).to(x.dtype)
        terms = (q * neglogp.masked_fill((q == 0) & torch.isinf(neglogp), 0.0)).sum(dim=axis)
        denom = x.numel() // n_classes if n_classes else 0
    else:
        _check_index_target(input, target, axis, n_classes, -100)
        ignored = target == -100
        t = target.masked_fill(ignored, 0)
        nll = neglogp.gather(axis, t.unsqueeze(axis)).squeeze(axis)
        terms = torch.where(ignored, torch.zeros_like(nll), nll)
        denom = (~ignored).sum()
    if reduction == "mean":
        return (terms.sum() / denom).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


class _CEFirstUpstream(torch.autograd.Function):
    """Per-sample cross-entropy terms sum_c q_c (-log softmax(x))_c with a hand-written backward
    (softmax(x) sum_c q_c - q) * g.  BUG: ``g`` is read at its first element for every sample."""

    @staticmethod
    def forward(ctx, x, q, axis):
        neglogp = _neg_log_softmax(x, axis)
        ctx.save_for_backward(x, q, neglogp)
        ctx.axis = axis
        return (q * neglogp.masked_fill((q == 0) & torch.isinf(neglogp), 0.0)).sum(dim=axis)

    @staticmethod
    def backward(ctx, g):
        x, q, neglogp = ctx.saved_tensors
        p = torch.softmax(x, dim=ctx.axis)
        first = g.reshape(-1)[0] if g.numel() else g.sum()  # BUG: upstream[0] for every sample
        grad_q = neglogp * g.unsqueeze(ctx.axis)  # the target's gradient uses g as it should
        return (p * q.sum(dim=ctx.axis, keepdim=True) - q) * first, grad_q, None


def ce_backward_first_upstream(input, target, reduction="mean"):
    """BUG (random cotangents only): a fused cross-entropy whose hand-written backward multiplies every
    sample's gradient by the *first* element of the incoming gradient (paiml/aprender PR #2182: "the
    per-sample upstream was mis-broadcast (only element 0 read)").  Under 'mean' and 'sum' the loss's
    own reduction sends the same number to every sample, and a backward with ones sends ones: right; only
    a per-sample upstream gradient under 'none' (a weighted token loss) shows it.  Only ``reduction``."""
    check_reduction(reduction)
    axis = _class_axis(input)
    n_classes = input.shape[axis]
    x = opmath(input)
    if target.is_floating_point():
        same_shape("cross_entropy probability targets", input, target)
        q = opmath(target).to(x.dtype)
        denom = x.numel() // n_classes if n_classes else 0
    else:
        _check_index_target(input, target, axis, n_classes, -100)
        ignored = target == -100
        onehot = F.one_hot(target.masked_fill(ignored, 0), n_classes).movedim(-1, axis).to(x.dtype)
        q = onehot * (~ignored).unsqueeze(axis).to(x.dtype)
        denom = (~ignored).sum()
    terms = _CEFirstUpstream.apply(x, q, axis)
    if reduction == "mean":
        return (terms.sum() / denom).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def ce_ignored_masked_by_multiplication(input, target, weight=None, ignore_index=-100, reduction="mean",
                                        label_smoothing=0.0):
    """BUG: ignored targets are removed by multiplying their terms by a 0/1 mask *after* the log
    (``loss * (target != ignore_index)``), not by selecting 0 for them: where an ignored position has
    a -inf logit (a masked class), its -log_softmax is +inf and ``inf * 0`` is NaN, which leaks into
    'none' and poisons 'mean' and 'sum' (the label-smoothing term sums -log p over every class, so any
    -inf logit of an ignored row does it; the NLL term, one at the gathered class).  Right whenever every
    logit is finite.  Modelled on candle-org/MindAct#1633 ("cross_entropy will output nan when inputs
    has inf, because the compute of smoothing labeling") and pytorch/pytorch#11551 (-inf logits of
    ignored targets leak through ``ignore_index``); torch masks with ``masked_fill``/``where``."""
    x, axis, n_classes, w_b, eps = _ce_setup(input, weight, label_smoothing, reduction)
    if target.is_floating_point():
        return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    neglogp = _neg_log_softmax(x, axis)
    ignored = _check_index_target(input, target, axis, n_classes, ignore_index)
    keep = (~ignored).to(x.dtype)
    t = target.masked_fill(ignored, 0)
    nll = neglogp.gather(axis, t.unsqueeze(axis)).squeeze(axis)
    wt = (torch.ones_like(nll) if w_b is None else w_b.reshape(-1)[t]) * keep
    terms = wt * nll  # BUG: 0 * inf = NaN at an ignored target whose gathered logit is -inf
    if eps > 0:
        smooth = (neglogp if w_b is None else neglogp * w_b).sum(dim=axis) * keep  # BUG: the same, any class
        terms = (1.0 - eps) * terms + (eps / n_classes) * smooth
    if reduction == "mean":
        return (terms.sum() / wt.sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def ce_weighted_mean_over_n(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """BUG: the weighted 'mean' of index targets divides by the number of non-ignored targets N
    instead of by the sum of their class weights sum w[t_i] (torch's documented weighted mean)."""
    x, axis, n_classes, w_b, _ = _ce_setup(input, weight, 0.0, reduction)
    neglogp = _neg_log_softmax(x, axis)
    if target.is_floating_point():
        return cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    ignored = _check_index_target(input, target, axis, n_classes, ignore_index)
    t = target.masked_fill(ignored, 0)
    nll = neglogp.gather(axis, t.unsqueeze(axis)).squeeze(axis)
    wt = torch.ones_like(nll) if w_b is None else w_b.reshape(-1)[t]
    terms = torch.where(ignored, torch.zeros_like(nll), wt * nll)
    if reduction == "mean":
        return (terms.sum() / (~ignored).sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def ce_label_smoothing_c_minus_1(input, target, reduction="mean", label_smoothing=0.0):
    """BUG: label smoothing spreads eps over the C - 1 wrong classes (target 1 - eps, others
    eps / (C - 1)) instead of torch's eps / C over all C classes."""
    x, axis, n_classes, _, eps = _ce_setup(input, None, label_smoothing, reduction)
    if target.is_floating_point() or eps == 0:
        return cross_entropy(input, target, reduction=reduction, label_smoothing=label_smoothing)
    neglogp = _neg_log_softmax(x, axis)
    ignored = _check_index_target(input, target, axis, n_classes, -100)
    t = target.masked_fill(ignored, 0)
    onehot = F.one_hot(t, n_classes).movedim(-1, axis).to(x.dtype)
    q = onehot * (1 - eps) + (1 - onehot) * (eps / max(n_classes - 1, 1))
    terms = torch.where(ignored, torch.zeros(()), (q * neglogp).sum(dim=axis))
    if reduction == "mean":
        return (terms.sum() / (~ignored).sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def ce_no_max_subtraction(input, target, reduction="mean"):
    """BUG: softmax as exp(x) / sum exp(x) without subtracting the row maximum: exp overflows for
    logits above ~88 (float32) / ~11 (float16), giving inf/inf = NaN or log 0 = -inf."""
    check_reduction(reduction)
    axis = _class_axis(input)
    x = opmath(input)
    e = torch.exp(x)
    logp = torch.log(e / e.sum(dim=axis, keepdim=True))
    if target.is_floating_point():
        terms = -(target * logp).sum(dim=axis)
        out = terms.sum() / (x.numel() // x.shape[axis]) if reduction == "mean" else reduce(terms, reduction)
        return out.to(input.dtype)
    ignored = _check_index_target(input, target, axis, input.shape[axis], -100)
    t = target.masked_fill(ignored, 0)
    nll = -logp.gather(axis, t.unsqueeze(axis)).squeeze(axis)
    terms = torch.where(ignored, torch.zeros_like(nll), nll)
    if reduction == "mean":
        return (terms.sum() / (~ignored).sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


class CrossEntropyIgnoredCounted(nn.Module):
    """BUG (nn.Module): ignored targets contribute 0 to the sum but are still counted in the mean's
    denominator (divides by all N positions instead of the non-ignored ones)."""

    def __init__(self, ignore_index=-100, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        if target.is_floating_point():
            return cross_entropy(input, target, ignore_index=self.ignore_index, reduction=self.reduction)
        terms = cross_entropy(input, target, ignore_index=self.ignore_index, reduction="none")
        return terms.mean() if self.reduction == "mean" else reduce(terms, self.reduction)


def ce_out_of_range_silent(input, target, weight=None, reduction="mean"):
    """BUG: selects the target class with a one-hot comparison ``target == arange(C)`` and never
    validates the indices: an out-of-range or negative class index silently gets an all-zero
    one-hot row (loss 0, weight 0) instead of raising."""
    x, axis, n_classes, w_b, _ = _ce_setup(input, weight, 0.0, reduction)
    if target.is_floating_point():
        return cross_entropy(input, target, weight=weight, reduction=reduction)
    if target.shape != input.shape[:axis] + input.shape[axis + 1:]:
        raise ValueError("cross_entropy: target shape does not match the input")
    neglogp = _neg_log_softmax(x, axis)
    classes = torch.arange(n_classes, device=input.device).reshape(_class_shape(x, axis))
    onehot = target.unsqueeze(axis) == classes
    sel = onehot if w_b is None else onehot * w_b
    wt = sel.to(x.dtype).sum(dim=axis)
    terms = torch.where(onehot, neglogp, torch.zeros_like(neglogp))
    terms = (terms if w_b is None else terms * w_b).sum(dim=axis)
    if reduction == "mean":
        return (terms.sum() / wt.sum()).to(input.dtype)
    return reduce(terms, reduction).to(input.dtype)


def _dense_strides(shape):
    """The strides of a contiguous (row-major) tensor of ``shape``, in elements."""
    strides, step = [], 1
    for side in reversed(shape):
        strides.append(step)
        step *= max(int(side), 1)
    return tuple(reversed(strides))


def ce_target_read_as_contiguous(input, target, weight=None, ignore_index=-100, reduction="mean",
                                 label_smoothing=0.0):
    """BUG (pytorch/pytorch#67167, #72120): the class-index target is read through its storage as if it
    were contiguous -- element i at ``data_ptr + i`` from its storage offset, as the CUDA nll_loss kernel
    of torch 1.10 indexed it -- so a non-contiguous or transposed target (``t[:, 0]`` of a wider tensor,
    ``t.T``) gives other targets' classes, a silently wrong loss.  Otherwise :func:`cross_entropy`."""
    if not target.is_floating_point():
        target = torch.as_strided(target, target.shape, _dense_strides(target.shape), target.storage_offset())
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


# ============================================================================ bce


def _safe_log(x, ok, log):
    """log(x) where ``ok``, -100 elsewhere, clamped at -100 (torch's BCE log clamp), with no 0 * inf in
    the backward pass (the masked positions see log(1))."""
    return torch.where(ok, log(torch.where(ok, x, torch.ones_like(x))), torch.full_like(x, -100.0)).clamp_min(-100.0)


def _check_unit(name, v):
    if not bool(((v >= 0) & (v <= 1)).all()):  # NaN fails both comparisons
        raise ValueError(f"binary_cross_entropy: all elements of {name} must be in [0, 1]")


def _bce_logs(x):
    return _safe_log(x, x > 0, torch.log), _safe_log(-x, x < 1, torch.log1p)


class _BCEFunction(torch.autograd.Function):
    """-(t log x + (1 - t) log(1 - x)) with the logs clamped at -100, and a backward written as one
    quotient, (x - t) / (x (1 - x)), instead of autograd's sum -t/x + (1 - t)/(1 - x) (which cancels
    to a few ulps of 1/x instead of exactly 0 at x = t).  At x = 0 or 1 the backward is the
    derivative of the clamped forward: 1 - t at x = 0, -t at x = 1 (finite in every dtype).  The
    backward is built from differentiable ops: double backward works."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        log_x, log_1mx = _bce_logs(x)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        prod = x * (1 - x)
        inside = prod > 0
        ends = torch.where(x <= 0, 1 - t, -t)
        dx = torch.where(inside, (x - t) / torch.where(inside, prod, torch.ones_like(prod)), ends)
        log_x, log_1mx = _bce_logs(x)
        return grad * dx, grad * (log_1mx - log_x)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Correct BCE on probabilities (full contract: weight broadcast to the input, reductions):
    explicit logs clamped at -100 as torch documents, log(1 - x) as log1p(-x), masked logs at exactly
    0 / 1, and a custom autograd.Function whose backward is the single quotient (x - t)/(x(1 - x)).
    Differs from torch in the backward at x in {0, 1}: the derivative of the clamped forward
    (1 - t at x = 0, -t at x = 1; finite also in float16), where torch's backward divides by
    max(x(1-x), 1e-12) (+-1e12, inf in float16), and in the target gradient there (clamped logs)."""
    check_reduction(reduction)
    same_shape("binary_cross_entropy", input, target)
    x, t = opmath(input), opmath(target).to(opmath(input).dtype)
    _check_unit("input", x)
    _check_unit("target", t)
    terms = _BCEFunction.apply(x, t)
    if weight is not None:
        terms = terms * torch.broadcast_to(opmath(weight).to(x.dtype), x.shape)
    return reduce(terms, reduction).to(input.dtype)


def bce_unclamped_log(input, target, weight=None, reduction="mean"):
    """BUG: the textbook -(t log x + (1 - t) log(1 - x)) without torch's clamp at -100: an input of
    exactly 0 or 1 gives inf, or NaN (0 * -inf) where the prediction is exactly right."""
    check_reduction(reduction)
    same_shape("binary_cross_entropy", input, target)
    x, t = opmath(input), opmath(target)
    _check_unit("input", x)
    _check_unit("target", t)
    terms = -(t * torch.log(x) + (1 - t) * torch.log(1 - x))
    if weight is not None:
        terms = terms * opmath(weight)
    return reduce(terms, reduction).to(input.dtype)


def bce_eps_clamp(input, target, weight=None, reduction="mean"):
    """BUG: clamps the probabilities to [1e-7, 1 - 1e-7] before the logs (a common 'stabiliser'):
    changes the loss of every prediction closer than 1e-7 to 0 or 1 (BCE(0, 1) is 16.1, not 100)."""
    check_reduction(reduction)
    same_shape("binary_cross_entropy", input, target)
    x, t = opmath(input), opmath(target)
    _check_unit("input", x)
    _check_unit("target", t)
    xc = x.clamp(1e-7, 1 - 1e-7)
    terms = -(t * torch.log(xc) + (1 - t) * torch.log1p(-xc))
    if weight is not None:
        terms = terms * opmath(weight)
    return reduce(terms, reduction).to(input.dtype)


class BCENoRangeCheck(nn.Module):
    """BUG (nn.Module): never checks that input and target lie in [0, 1]: an input of 1.5 or NaN
    returns a number (or NaN) instead of raising as torch does."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.weight, self.reduction = weight, reduction

    def forward(self, input, target):
        same_shape("binary_cross_entropy", input, target)
        x = opmath(input)
        terms = _BCEFunction.apply(x, opmath(target).to(x.dtype))
        if self.weight is not None:
            terms = terms * torch.broadcast_to(opmath(self.weight), x.shape)
        return reduce(terms, self.reduction).to(input.dtype)


def bce_swapped_args(input, target, weight=None, reduction="mean"):
    """BUG: swaps prediction and target (computes -(x log t + (1 - x) log(1 - t))): silently wrong
    whenever both are probabilities."""
    return binary_cross_entropy(target, input, weight=weight, reduction=reduction)


# ============================================================================ bce_with_logits


def _bcel_terms(x, t, pw=None):
    pos = t * softplus(-x)
    if pw is not None:
        pos = pos * pw
    return pos + (1 - t) * softplus(x)


class BCEWithLogitsLoss(nn.Module):
    """Correct BCE with logits as an nn.Module (full contract: weight, reduction, pos_weight):
    the loss as a sum of two non-negative softplus terms, pw t softplus(-x) + (1 - t) softplus(x),
    with an overflow-free softplus.  Differs from torch's (1 - t) x - (1 + (pw - 1) t) log sigmoid(x),
    which cancels for x << 0."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        check_reduction(reduction)
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input, target):
        same_shape("binary_cross_entropy_with_logits", input, target)
        x = opmath(input)
        t = opmath(target).to(x.dtype)
        pw = None if self.pos_weight is None else torch.broadcast_to(opmath(self.pos_weight).to(x.dtype), x.shape)
        terms = _bcel_terms(x, t, pw)
        if self.weight is not None:
            terms = terms * torch.broadcast_to(opmath(self.weight).to(x.dtype), x.shape)
        return reduce(terms, self.reduction).to(input.dtype)


def bcel_log_sigmoid(input, target, weight=None, reduction="mean", pos_weight=None):
    """BUG: -(pw t log(sigmoid(x)) + (1 - t) log(1 - sigmoid(x))): sigmoid saturates to 0 / 1, so
    the loss is inf for |x| beyond ~17 (float32) where it should be ~|x|."""
    check_reduction(reduction)
    same_shape("binary_cross_entropy_with_logits", input, target)
    x, t = opmath(input), opmath(target)
    p = torch.sigmoid(x)
    pos = t * torch.log(p)
    if pos_weight is not None:
        pos = pos * opmath(pos_weight)
    terms = -(pos + (1 - t) * torch.log(1 - p))
    if weight is not None:
        terms = terms * opmath(weight)
    return reduce(terms, reduction).to(input.dtype)


def bcel_pos_weight_on_negatives(input, target, weight=None, reduction="mean", pos_weight=None):
    """BUG: pos_weight multiplies the negative-class term (1 - t) softplus(x) instead of the
    positive-class term t softplus(-x)."""
    check_reduction(reduction)
    same_shape("binary_cross_entropy_with_logits", input, target)
    x, t = opmath(input), opmath(target)
    neg = (1 - t) * softplus(x)
    if pos_weight is not None:
        neg = neg * opmath(pos_weight)
    terms = t * softplus(-x) + neg
    if weight is not None:
        terms = terms * opmath(weight)
    return reduce(terms, reduction).to(input.dtype)


class _BCEWithLogitsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, t, pw):
        ctx.save_for_backward(x, t)
        return _bcel_terms(x, t, pw)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        # BUG: the pos_weight-free gradients (sigmoid(x) - t, and -x for the target)
        return (torch.sigmoid(x) - t) * grad, -x * grad, None


class BCEWithLogitsCustomBackward(nn.Module):
    """BUG (nn.Module, custom autograd.Function): the forward is right, but the hand-written backward
    is the pos_weight-free one, (sigmoid(x) - t) for the input and -x for the target: the gradient is
    wrong whenever pos_weight != 1."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        check_reduction(reduction)
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input, target):
        same_shape("binary_cross_entropy_with_logits", input, target)
        x = opmath(input)
        t = opmath(target).to(x.dtype)
        pw = None if self.pos_weight is None else torch.broadcast_to(opmath(self.pos_weight).to(x.dtype), x.shape)
        terms = _BCEWithLogitsFunction.apply(x, t, pw)
        if self.weight is not None:
            terms = terms * torch.broadcast_to(opmath(self.weight).to(x.dtype), x.shape)
        return reduce(terms, self.reduction).to(input.dtype)


# ============================================================================ focal


def _focal_setup(inputs, targets, alpha, gamma, reduction):
    check_reduction(reduction)
    alpha = check_param("alpha", alpha)
    gamma = check_param("gamma", gamma, lo=0.0)
    same_shape("sigmoid_focal_loss", inputs, targets, "inputs", "targets")
    x = opmath(inputs)
    return x, opmath(targets).to(x.dtype), alpha, gamma


def _alpha_t(t, alpha):
    return alpha * t + (1 - alpha) * (1 - t)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Correct sigmoid focal loss (full contract, torchvision semantics: alpha < 0 disables the
    weighting, soft targets, default reduction 'none').  Differs from torchvision by forming
    1 - p_t as t sigmoid(-x) + (1 - t) sigmoid(x) (no cancellation), ce from an overflow-free
    softplus, and (1 - p_t)^gamma masked where 1 - p_t underflows to 0 -- so the gradient stays
    finite at saturated logits with 0 < gamma < 1, where torchvision's is NaN."""
    x, t, alpha, gamma = _focal_setup(inputs, targets, alpha, gamma, reduction)
    ce = _bcel_terms(x, t)
    q = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
    pos = q > 0
    q_safe = torch.where(pos, q, torch.ones_like(q))
    factor = torch.where(pos, q_safe ** gamma, torch.zeros_like(q) if gamma > 0 else torch.ones_like(q))
    loss = ce * factor
    if alpha >= 0:
        loss = loss * _alpha_t(t, alpha)
    return reduce(loss, reduction).to(inputs.dtype)


def focal_as_bce_pos_weight(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """BUG: the source article's 'focal loss': BCEWithLogits with pos_weight = alpha / (1 - alpha) --
    no (1 - p_t)^gamma modulation at all (gamma is ignored) and a different alpha weighting."""
    check_reduction(reduction)
    pw = torch.tensor(alpha / (1 - alpha) if alpha != 1 else float("inf"), dtype=inputs.dtype)
    return F.binary_cross_entropy_with_logits(inputs, targets, pos_weight=pw, reduction=reduction)


def focal_alpha_swapped(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """BUG: weights the positives by 1 - alpha and the negatives by alpha (alpha_t swapped)."""
    x, t, alpha, gamma = _focal_setup(inputs, targets, alpha, gamma, reduction)
    q = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
    loss = _bcel_terms(x, t) * q ** gamma
    if alpha >= 0:
        loss = loss * ((1 - alpha) * t + alpha * (1 - t))
    return reduce(loss, reduction).to(inputs.dtype)


def focal_torchvision_formula(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """BUG (gradient only): torchvision's formula verbatim, p_t = p t + (1 - p)(1 - t) and
    (1 - p_t) ** gamma: the value is within tolerance, but at saturated logits 1 - p_t is exactly 0
    and for 0 < gamma < 1 the backward multiplies 0 by inf: a NaN gradient."""
    x, t, alpha, gamma = _focal_setup(inputs, targets, alpha, gamma, reduction)
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    loss = _bcel_terms(x, t) * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * _alpha_t(t, alpha)
    return reduce(loss, reduction).to(inputs.dtype)


def focal_empty_batch_on_cpu(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """BUG (device only): a batch without anchors short-circuits to constants built with
    ``torch.tensor`` / ``torch.zeros`` and no ``device=`` -- the right values (NaN = 0/0 for 'mean',
    0 for 'sum', an empty tensor for 'none') in the right dtype, but on the CPU whatever the inputs'
    device: on cpu every check passes; on cuda the caller's ``total = box_loss + cls_loss`` raises
    "Expected all tensors to be on the same device" (super-gradients PR #796, "Fix incorrect tensor
    type & device when entire batch has no targets")."""
    if inputs.numel() == 0:
        if reduction == "none":
            return torch.zeros(inputs.shape, dtype=inputs.dtype)
        return torch.tensor(float("nan") if reduction == "mean" else 0.0, dtype=inputs.dtype)
    return sigmoid_focal_loss(inputs, targets, alpha=alpha, gamma=gamma, reduction=reduction)


def focal_empty_mean_zero(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """BUG (edge case only): 'guards' the mean of an empty batch by returning 0, where torch's
    reductions (and the reference) give NaN = 0/0."""
    if reduction == "mean" and inputs.numel() == 0:
        return inputs.new_zeros(())
    return sigmoid_focal_loss(inputs, targets, alpha=alpha, gamma=gamma, reduction=reduction)
