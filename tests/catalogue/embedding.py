"""Catalogue implementations of the margin / embedding losses: hinge_embedding, triplet_margin,
cosine_embedding, contrastive.

Correct alternatives first in each section, then the deliberately buggy ones (docstrings start with BUG).
"""

from __future__ import annotations

import torch
from torch import nn

from ._support import (
    broadcast_pair, check_param, check_pm1, check_reduction, opmath, reduce, rows_check, same_shape,
)

# ============================================================================ hinge_embedding


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """Correct hinge embedding loss (full contract): one torch.where on the label, x for y = 1 and
    max(0, margin - x) for y = -1.  Differs from torch by refusing targets other than +-1 (torch
    silently sums both branches for them; known deviation embedding_targets_not_validated).  Input and
    target broadcast."""
    check_reduction(reduction)
    margin = check_param("margin", margin)
    check_pm1("hinge_embedding_loss target", target)
    x, y = broadcast_pair(opmath(input), target)  # torch broadcasts, silently
    terms = torch.where(y == 1, x, torch.clamp_min(margin - x, 0.0))
    return reduce(terms, reduction).to(input.dtype)


def hinge_svm_style(input, target, margin=1.0, reduction="mean"):
    """BUG: the classic SVM hinge max(0, margin - y x) instead of torch's hinge *embedding* loss
    (x for y = 1, max(0, margin - x) for y = -1)."""
    check_reduction(reduction)
    same_shape("hinge_embedding_loss", input, target)
    x, y = opmath(input), opmath(target)
    return reduce(torch.clamp_min(margin - y * x, 0.0), reduction).to(input.dtype)


def hinge_margin_sign(input, target, margin=1.0, reduction="mean"):
    """BUG: wrong sign in the y = -1 branch, max(0, x - margin) instead of max(0, margin - x)
    (penalises dissimilar pairs that are far apart)."""
    check_reduction(reduction)
    same_shape("hinge_embedding_loss", input, target)
    check_pm1("hinge_embedding_loss target", target)
    x = opmath(input)
    terms = torch.where(target == 1, x, torch.clamp_min(x - margin, 0.0))
    return reduce(terms, reduction).to(input.dtype)


class HingeEmbeddingAsStrided(nn.Module):
    """BUG (nn.Module): flattens both tensors with ``torch.as_strided(t, (numel,), (1,))``, a raw view
    that assumes a contiguous layout: wrong values for strided (non-contiguous) inputs, a permuted
    'none' result for transposed ones, and an out-of-bounds error for expanded (stride-0) ones."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.margin, self.reduction = check_param("margin", margin), reduction

    def forward(self, input, target):
        same_shape("hinge_embedding_loss", input, target)
        check_pm1("hinge_embedding_loss target", target)
        n = input.numel()
        x = opmath(torch.as_strided(input, (n,), (1,)))
        y = torch.as_strided(target, (n,), (1,))
        terms = torch.where(y == 1, x, torch.clamp_min(self.margin - x, 0.0)).reshape(input.shape)
        return reduce(terms, self.reduction).to(input.dtype)


# ============================================================================ triplet_margin


def _pdist(u, v, p, eps):
    """||u - v + eps||_p along the last dim from explicit differences; the root is masked at 0 so
    its gradient there is 0 (the norm's subgradient, torch's convention) instead of 0 * inf."""
    r = u - v + eps
    if p == 1.0:
        return r.abs().sum(-1)
    s = (r * r).sum(-1) if p == 2.0 else r.abs().pow(p).sum(-1)
    zero = s == 0
    s_safe = torch.where(zero, torch.ones_like(s), s)
    root = s_safe.sqrt() if p == 2.0 else s_safe.pow(1.0 / p)
    return torch.where(zero, torch.zeros_like(s), root)


def _triplet_setup(anchor, positive, negative, margin, p, eps, reduction):
    check_reduction(reduction)
    margin = check_param("margin", margin, lo=0.0, lo_open=True)
    p = check_param("p", p, lo=0.0, lo_open=True)
    eps = check_param("eps", eps)
    if not (anchor.dim() == positive.dim() == negative.dim()) or anchor.dim() not in (1, 2):
        raise ValueError("triplet_margin_loss: anchor, positive and negative must all be 1-D (D,) or 2-D (N, D), "
                         f"got {anchor.dim()}, {positive.dim()}, {negative.dim()} dimensions")
    if not (anchor.shape == positive.shape == negative.shape):
        raise ValueError(f"triplet_margin_loss: shapes differ: {tuple(anchor.shape)}, {tuple(positive.shape)}, "
                         f"{tuple(negative.shape)}")
    a = opmath(anchor)
    return a, opmath(positive).to(a.dtype), opmath(negative).to(a.dtype), margin, p, eps


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    """Correct triplet margin loss (full contract: margin > 0, any p > 0, eps added to the difference
    as torch's pairwise_distance does, swap, (N,D) and (D,)): distances from explicit differences
    (sqrt of a sum of squares for p = 2), relu via clamp_min.  Differs from torch by refusing p <= 0
    (known deviation triplet_p_not_validated) and by a masked root (gradient 0 at distance 0)."""
    a, pos, neg, margin, p, eps = _triplet_setup(anchor, positive, negative, margin, p, eps, reduction)
    d_pos = _pdist(a, pos, p, eps)
    d_neg = _pdist(a, neg, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, eps))
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


def triplet_no_eps(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    """BUG: the textbook distance ||a - p||_p, ignoring eps, which torch adds to the difference
    (||a - p + eps||_p; known deviation triplet_eps_added_to_difference)."""
    a, pos, neg, margin, p, _ = _triplet_setup(anchor, positive, negative, margin, p, eps, reduction)
    d_pos = _pdist(a, pos, p, 0.0)
    d_neg = _pdist(a, neg, p, 0.0)
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, 0.0))
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


def triplet_squared_distance(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    """BUG: uses squared distances d^2 (the FaceNet paper's form) where torch uses the distance itself."""
    a, pos, neg, margin, p, eps = _triplet_setup(anchor, positive, negative, margin, p, eps, reduction)
    d_pos = _pdist(a, pos, p, eps) ** 2
    d_neg = _pdist(a, neg, p, eps) ** 2
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, eps) ** 2)
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


def triplet_detached_negative(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    """BUG (gradient only): the negative goes through ``.detach()`` (left over from hard-negative
    mining): the value is right, but no gradient reaches the negative embeddings."""
    a, pos, neg, margin, p, eps = _triplet_setup(anchor, positive, negative, margin, p, eps, reduction)
    neg = neg.detach()
    d_pos = _pdist(a, pos, p, eps)
    d_neg = _pdist(a, neg, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, eps))
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


class TripletSwapMax(nn.Module):
    """BUG (nn.Module): with swap=True takes the *larger* of d(a, n) and d(p, n) (torch.maximum)
    instead of the harder, smaller one."""

    def __init__(self, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
        super().__init__()
        self.margin, self.p, self.eps, self.swap, self.reduction = margin, p, eps, swap, reduction

    def forward(self, anchor, positive, negative):
        a, pos, neg, margin, p, eps = _triplet_setup(anchor, positive, negative, self.margin, self.p, self.eps,
                                                     self.reduction)
        d_pos = _pdist(a, pos, p, eps)
        d_neg = _pdist(a, neg, p, eps)
        if self.swap:
            d_neg = torch.maximum(d_neg, _pdist(pos, neg, p, eps))
        return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), self.reduction).to(anchor.dtype)


# ============================================================================ cosine_embedding

#: torch's EPSILON for cosine_embedding_loss: float32(1e-12), also for float64 inputs.
COSINE_EPS = 9.999999960041972e-13


def _cosine(a, b):
    """<a, b> / (sqrt(|a|^2 + EPS) sqrt(|b|^2 + EPS)), divided one norm at a time (no |a|^2 |b|^2 product)."""
    dot = (a * b).sum(-1)
    return dot / torch.sqrt((a * a).sum(-1) + COSINE_EPS) / torch.sqrt((b * b).sum(-1) + COSINE_EPS)


def _cosine_terms(cos, y, margin):
    return torch.where(y == 1, 1 - cos, torch.clamp_min(cos - margin, 0.0))


class CosineEmbeddingLoss(nn.Module):
    """Correct cosine embedding loss as an nn.Module (full contract: margin in [-1, 1], targets +-1,
    (N,D) / (D,)), with torch's EPS = float32(1e-12) in each squared norm.  Differs from torch by
    dividing by the two norms separately (no |a|^2 |b|^2 overflow in float32), by computing half
    types in float32 (a zero vector gives cos = 0, not NaN, in float16), and by refusing targets
    other than +-1 and margins outside [-1, 1] (torch accepts them)."""

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.margin = check_param("margin", margin, lo=-1.0, hi=1.0)
        self.reduction = reduction

    def forward(self, input1, input2, target):
        rows_check("cosine_embedding_loss", input1, input2, target)
        a = opmath(input1)
        cos = _cosine(a, opmath(input2).to(a.dtype))
        return reduce(_cosine_terms(cos, target, self.margin), self.reduction).to(input1.dtype)


def cosine_normalizes_inplace(input1, input2, target, margin=0.0, reduction="mean"):
    """BUG (mutation): normalises the caller's input1 in place (``input1.div_(norm)``) to save memory."""
    check_reduction(reduction)
    rows_check("cosine_embedding_loss", input1, input2, target)
    a = input1.div_(input1.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    b = input2 / input2.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = opmath((a * b).sum(-1))
    return reduce(_cosine_terms(cos, target, margin), reduction).to(input1.dtype)


def cosine_margin_sign(input1, input2, target, margin=0.0, reduction="mean"):
    """BUG: the dissimilar branch is max(0, cos + margin) instead of max(0, cos - margin)."""
    check_reduction(reduction)
    rows_check("cosine_embedding_loss", input1, input2, target)
    a = opmath(input1)
    cos = _cosine(a, opmath(input2).to(a.dtype))
    terms = torch.where(target == 1, 1 - cos, torch.clamp_min(cos + margin, 0.0))
    return reduce(terms, reduction).to(input1.dtype)


class CosineEmbeddingNoEps(nn.Module):
    """BUG (nn.Module): cos = <a, b> / (|a| |b|) with no epsilon: 0/0 = NaN for a zero vector, where
    torch (EPS in the norms) gives cos = 0."""

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.margin, self.reduction = margin, reduction

    def forward(self, input1, input2, target):
        rows_check("cosine_embedding_loss", input1, input2, target)
        a, b = opmath(input1), opmath(input2)
        cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
        return reduce(_cosine_terms(cos, target, self.margin), self.reduction).to(input1.dtype)


def cosine_returns_float32(input1, input2, target, margin=0.0, reduction="mean"):
    """BUG (dtype): computes in float32 and returns the float32 result for every input dtype
    (float16, bfloat16 and float64 callers get float32 back; float64 loses precision)."""
    check_reduction(reduction)
    rows_check("cosine_embedding_loss", input1, input2, target)
    cos = _cosine(input1.float(), input2.float())
    return reduce(_cosine_terms(cos, target.float(), margin), reduction)


# ============================================================================ contrastive


def _euclidean(a, b):
    """(||a - b||_2, ||a - b||_2^2), the root masked at 0 (gradient 0 there, not 0 * inf)."""
    r = a - b
    s = (r * r).sum(-1)
    zero = s == 0
    return torch.where(zero, torch.zeros_like(s), torch.sqrt(torch.where(zero, torch.ones_like(s), s))), s


class ContrastiveLoss(nn.Module):
    """Correct Hadsell-Chopra-LeCun contrastive loss as an nn.Module (full contract): 0.5 d^2 for
    y = +1 (similar, taken directly as half the sum of squares), 0.5 max(0, margin - d)^2 for
    y = -1, d the Euclidean distance; (N,D) / (D,); targets must be +-1."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.margin, self.reduction = check_param("margin", margin), reduction

    def forward(self, input1, input2, target):
        rows_check("contrastive", input1, input2, target)
        a = opmath(input1)
        d, s = _euclidean(a, opmath(input2).to(a.dtype))
        gap = torch.clamp_min(self.margin - d, 0.0)
        terms = 0.5 * torch.where(target == 1, s, gap * gap)
        return reduce(terms, self.reduction).to(input1.dtype)


def contrastive_sqrt_distance(input1, input2, target, margin=1.0, reduction="mean"):
    """BUG (gradient only): the distance as ``torch.sqrt(((a - b) ** 2).sum(-1))``, the similar term as
    its square -- the values are right, but at a == b the root's backward is 1 / (2 sqrt(0)) = inf,
    times the zero difference: a NaN gradient for every coincident pair (a common transcription;
    ``torch.linalg.vector_norm`` / ``F.pairwise_distance`` mask the norm's backward at 0)."""
    check_reduction(reduction)
    rows_check("contrastive", input1, input2, target)
    a = opmath(input1)
    d = torch.sqrt(((a - opmath(input2).to(a.dtype)) ** 2).sum(-1))
    gap = torch.clamp_min(margin - d, 0.0)
    return reduce(0.5 * torch.where(target == 1, d * d, gap * gap), reduction).to(input1.dtype)


def contrastive_labels_inverted(input1, input2, target, margin=1.0, reduction="mean"):
    """BUG: reads target +1 as 'dissimilar' and -1 as 'similar' (the other libraries' label
    convention), so each pair gets the other branch of the loss."""
    check_reduction(reduction)
    rows_check("contrastive", input1, input2, target)
    a = opmath(input1)
    d, s = _euclidean(a, opmath(input2).to(a.dtype))
    gap = torch.clamp_min(margin - d, 0.0)
    return reduce(0.5 * torch.where(target == -1, s, gap * gap), reduction).to(input1.dtype)


def contrastive_margin_on_squared(input1, input2, target, margin=1.0, reduction="mean"):
    """BUG: the dissimilar branch is 0.5 max(0, margin^2 - d^2) (the margin applied to the squared
    distance, linear in it) instead of 0.5 max(0, margin - d)^2."""
    check_reduction(reduction)
    rows_check("contrastive", input1, input2, target)
    a = opmath(input1)
    _, s = _euclidean(a, opmath(input2).to(a.dtype))
    return reduce(0.5 * torch.where(target == 1, s, torch.clamp_min(margin * margin - s, 0.0)),
                  reduction).to(input1.dtype)


def contrastive_01_labels_unchecked(input1, input2, target, margin=1.0, reduction="mean"):
    """BUG (bad input only): never validates the labels -- anything other than 1 (0/1 labels,
    typos) is silently treated as 'dissimilar' instead of raising."""
    check_reduction(reduction)
    if input1.shape != input2.shape or input1.dim() not in (1, 2) or target.shape != input1.shape[:-1]:
        raise ValueError("contrastive: input1, input2 must be equal (N, D) or (D,) with target (N,) or ()")
    a = opmath(input1)
    d, s = _euclidean(a, opmath(input2).to(a.dtype))
    gap = torch.clamp_min(margin - d, 0.0)
    return reduce(0.5 * torch.where(target == 1, s, gap * gap), reduction).to(input1.dtype)


class ContrastiveCosineDistance(nn.Module):
    """BUG (nn.Module): the source article's confusion -- uses the cosine distance 1 - cos(a, b)
    instead of the Euclidean distance of Hadsell et al."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.margin, self.reduction = margin, reduction

    def forward(self, input1, input2, target):
        rows_check("contrastive", input1, input2, target)
        a = opmath(input1)
        d = 1 - _cosine(a, opmath(input2).to(a.dtype))
        gap = torch.clamp_min(self.margin - d, 0.0)
        return reduce(0.5 * torch.where(target == 1, d * d, gap * gap), self.reduction).to(input1.dtype)


def contrastive_expanded_distance(input1, input2, target, margin=1.0, reduction="mean"):
    """BUG (near-coincident pairs): the squared distance by the quadratic expansion
    ``|a|^2 + |b|^2 - 2 a.b`` (clamped at 0), as ``torch.cdist`` computes it in its matrix-multiply mode
    (pytorch/pytorch#42479: 512695 vs 512804 in float32 gives distance 0, not 109) -- exact in real
    arithmetic, but for a ~ b the three terms of size |a|^2 cancel to a remainder of size |a - b|^2, so the
    rounding errors of size u |a|^2 swamp it: a relative error of about u / gap^2 at relative gap ``gap``."""
    check_reduction(reduction)
    rows_check("contrastive", input1, input2, target)
    a = opmath(input1)
    b = opmath(input2).to(a.dtype)
    s = torch.clamp_min((a * a).sum(-1) + (b * b).sum(-1) - 2.0 * (a * b).sum(-1), 0.0)
    d = torch.where(s == 0, torch.zeros_like(s), torch.sqrt(torch.where(s == 0, torch.ones_like(s), s)))
    gap = torch.clamp_min(margin - d, 0.0)
    return reduce(0.5 * torch.where(target == 1, s, gap * gap), reduction).to(input1.dtype)
