"""High-precision (mpmath) evaluations that verify the float64 references.

Every float64 reference in :mod:`refimpl` is trusted only after it agrees with
the function of the same name here.  Each function below is an independent,
textbook transcription of the loss's mathematics plus the semantics of the
PyTorch (or torchvision / MONAI) function it mirrors, evaluated in mpmath at
``_DPS`` (60) significant digits inside a local ``mpmath.workdps`` context; the
global ``mpmath.mp`` precision is never changed.

Conventions
-----------
* Inputs are float64 arrays (each element converted exactly with
  ``mpmath.mpf(float(v))``), integer arrays for class indices, and Python
  scalars for parameters; signatures match the float64 references.
* Outputs are ``numpy`` arrays of ``dtype=object`` holding ``mpmath.mpf``
  values, shaped exactly as torch's result (0-d for reduced results).  Undefined
  results (a mean over nothing, 0/0) are ``mpf('nan')``.
* No float64 stabilisation tricks are copied.  The plain formula is used, and
  an exact algebraic identity replaces it only where the plain form would
  cancel catastrophically even at 60 digits (the identity is named in the
  function's docstring): ``log(1 - x)`` is evaluated as ``log1p(-x)``,
  ``-log(sigmoid(z))`` as ``log1p(exp(-z))``, ``log_softmax`` as
  ``-log1p(sum_{j != c} exp(x_j - x_c))``, and the cosine / Dice ``1 - a/b``
  as ``(b - a)/b`` with ``b - a`` formed in exact arithmetic.  mpmath has an
  unbounded exponent range, so ``exp`` of any finite float64 never overflows.
* Light validation only (reduction strings, obviously invalid parameters),
  raising ``ValueError``; the float64 references validate thoroughly.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np

__all__ = [
    "bce", "bce_with_logits", "contrastive", "cosine_embedding", "cross_entropy", "dice", "focal",
    "hinge_embedding", "huber", "kl_div", "mse", "smooth_l1", "triplet_margin",
]

_DPS = 60  # working precision in significant decimal digits (>= 50 required)

_REDUCTIONS = ("none", "mean", "sum")
_NAN = mpmath.mpf("nan")
_ZERO = mpmath.mpf(0)
_ONE = mpmath.mpf(1)


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------

def _high_precision(fn):
    """Run ``fn`` inside a local ``mpmath.workdps`` context (>= ``_DPS`` digits)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mpmath.workdps(max(_DPS, mpmath.mp.dps)):
            return fn(*args, **kwargs)

    return wrapper


def _mp(x) -> np.ndarray:
    """Exact conversion of a float array (or scalar) to an object array of ``mpf``."""
    a = np.asarray(x, dtype=np.float64)
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = mpmath.mpf(float(v))
    return out


def _map(fn, *arrays) -> np.ndarray:
    """Apply the scalar function ``fn`` elementwise over numpy-broadcast arrays."""
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in arrays])
    shape = arrays[0].shape if arrays else ()
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = fn(*(a[idx] for a in arrays))
    return out


def _rows(fn, *arrays, axes=(-1,), per_row=()) -> np.ndarray:
    """Apply ``fn`` to the sub-arrays spanned by ``axes``; those axes are removed.

    The arrays must share one shape.  ``fn`` receives, for each position of the
    remaining axes, the flattened 1-D object arrays of the reduced axes,
    followed by that position's element of each ``per_row`` array (arrays of
    the output shape).
    """
    arrays = [np.asarray(a, dtype=object) for a in arrays]
    nd = arrays[0].ndim
    axes = sorted({ax % nd for ax in axes})
    keep = [ax for ax in range(nd) if ax not in axes]
    moved = [np.transpose(a, keep + axes) for a in arrays]
    out_shape = tuple(arrays[0].shape[ax] for ax in keep)
    out = np.empty(out_shape, dtype=object)
    for idx in np.ndindex(out_shape):
        out[idx] = fn(*(m[idx].reshape(-1) for m in moved), *(r[idx] for r in per_row))
    return out


def _scalar(v) -> np.ndarray:
    """A 0-d object array holding ``v``."""
    out = np.empty((), dtype=object)
    out[()] = v
    return out


def _sum(values) -> mpmath.mpf:
    """Sum of ``mpf`` values (mpmath.fsum: exact accumulation, one final rounding)."""
    return mpmath.fsum(list(np.asarray(values, dtype=object).reshape(-1)))


def _div(num, den) -> mpmath.mpf:
    """``num / den`` with IEEE-like results for a zero denominator (0/0 -> nan, a/0 -> +-inf)."""
    if den == 0:
        if num == 0 or mpmath.isnan(num):
            return _NAN
        return mpmath.inf if num > 0 else -mpmath.inf
    return num / den


def _xadd(*values) -> mpmath.mpf:
    """Exact sum (no rounding) of ``mpf`` values."""
    return functools.reduce(lambda a, b: mpmath.fadd(a, b, exact=True), values, _ZERO)


def _xdot(a, b) -> mpmath.mpf:
    """Exact inner product (no rounding) of two equal-length ``mpf`` sequences."""
    return _xadd(*(mpmath.fmul(u, v, exact=True) for u, v in zip(a, b)))


def _check_reduction(reduction, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"invalid reduction {reduction!r}; expected one of {', '.join(map(repr, allowed))}")


def _reduce(terms, reduction: str, allowed=_REDUCTIONS) -> np.ndarray:
    """'none' -> terms unchanged, 'sum' -> exact sum, 'mean' -> sum / count (empty -> nan)."""
    _check_reduction(reduction, allowed)
    terms = np.asarray(terms, dtype=object)
    if reduction == "none":
        return terms
    total = _sum(terms)
    if reduction == "sum":
        return _scalar(total)
    if reduction == "mean":
        return _scalar(_div(total, mpmath.mpf(terms.size)))
    raise ValueError(f"reduction {reduction!r} must be handled by the caller")


def _finite_param(name: str, value) -> mpmath.mpf:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return mpmath.mpf(v)


def _sigmoid(z) -> mpmath.mpf:
    """sigma(z) = 1 / (1 + exp(-z)); accurate for every z since exp cannot overflow."""
    return 1 / (1 + mpmath.exp(-z))


def _softplus(z) -> mpmath.mpf:
    """log(1 + exp(z)) = -log(sigmoid(-z)) = -log(1 - sigmoid(z))."""
    return mpmath.log1p(mpmath.exp(z))


def _pnorm(v, p) -> mpmath.mpf:
    """(sum_k |v_k|^p)^(1/p) for p > 0; max_k |v_k| for p = inf."""
    if mpmath.isinf(p):
        return max((abs(x) for x in v), default=_ZERO)
    return mpmath.power(mpmath.fsum(mpmath.power(abs(x), p) for x in v), 1 / p)


def _pm1_where(t, pos, neg) -> mpmath.mpf:
    """Select ``pos`` for target +1 and ``neg`` for target -1 (other targets are an error)."""
    if t == 1:
        return pos
    if t == -1:
        return neg
    raise ValueError(f"target values must be 1 or -1, got {t}")


# --------------------------------------------------------------------------
# regression losses
# --------------------------------------------------------------------------

@_high_precision
def mse(input, target, reduction: str = "mean", weight=None) -> np.ndarray:
    """Mean squared error; torch.nn.functional.mse_loss (ATen ``mse_loss``).

        term_i = w_i (x_i - y_i)^2                  (w = 1 without ``weight``)
        'mean' = sum_i term_i / n                   (unweighted)
        'mean' = sum_i term_i / sum_i w_i           (weighted: F.mse_loss divides by sum(weight))

    input and target broadcast like numpy (torch.broadcast_tensors); ``weight``
    must have the shape of ``input``.
    """
    _check_reduction(reduction)
    terms = _map(lambda x, y: (x - y) ** 2, _mp(input), _mp(target))
    if weight is None:
        return _reduce(terms, reduction)
    w = _mp(weight)
    if w.shape != np.shape(input):
        raise ValueError(f"weight shape {w.shape} must equal input shape {np.shape(input)}")
    terms = _map(lambda t, wi: wi * t, terms, w)
    if reduction == "mean":
        return _scalar(_div(_sum(terms), _sum(w)))
    return _reduce(terms, reduction)


@_high_precision
def huber(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> np.ndarray:
    """Huber loss; torch.nn.functional.huber_loss (ATen ``huber_loss``; Huber 1964).

        z = |x - y|;  term = 0.5 z^2 if z < delta else delta (z - 0.5 delta)

    With ``weight`` (shape of ``input``) each term is multiplied by w and
    'mean' is the plain mean of the weighted terms (torch does NOT divide by
    sum(weight) here, unlike mse_loss).
    """
    _check_reduction(reduction)
    d = _finite_param("delta", delta)
    if d <= 0:
        raise ValueError(f"delta must be positive, got {delta!r}")

    def term(x, y):
        z = abs(x - y)
        return z * z / 2 if z < d else d * (z - d / 2)

    terms = _map(term, _mp(input), _mp(target))
    if weight is not None:
        w = _mp(weight)
        if w.shape != np.shape(input):
            raise ValueError(f"weight shape {w.shape} must equal input shape {np.shape(input)}")
        terms = _map(lambda t, wi: wi * t, terms, w)
    return _reduce(terms, reduction)


@_high_precision
def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0) -> np.ndarray:
    """Smooth L1 loss; torch.nn.functional.smooth_l1_loss (ATen ``smooth_l1_loss``; Girshick 2015).

        z = |x - y|;  beta == 0: term = z  (torch dispatches to l1_loss)
        else:         term = 0.5 z^2 / beta if z < beta else z - 0.5 beta
    """
    _check_reduction(reduction)
    b = _finite_param("beta", beta)
    if b < 0:
        raise ValueError(f"beta must be non-negative, got {beta!r}")

    def term(x, y):
        z = abs(x - y)
        if b == 0:
            return z
        return z * z / (2 * b) if z < b else z - b / 2

    return _reduce(_map(term, _mp(input), _mp(target)), reduction)


# --------------------------------------------------------------------------
# classification losses
# --------------------------------------------------------------------------

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


def _check_bce_shape(input, target) -> None:
    if np.shape(input) != np.shape(target):
        raise ValueError(f"target shape {np.shape(target)} must equal input shape {np.shape(input)}")


@_high_precision
def bce(input, target, weight=None, reduction: str = "mean", *, clamp_log: bool = False) -> np.ndarray:
    """Binary cross entropy on probabilities; torch.nn.functional.binary_cross_entropy
    (ATen ``binary_cross_entropy``).

        term = -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100))

    torch clamps each log at -100 (so log 0 = -inf becomes -100): ``clamp_log=True``;
    without it a zero-weighted log 0 counts 0 (0 log 0 = 0).  log(1 - x)
    is evaluated as log1p(-x) (exact for tiny x).  ``weight`` broadcasts to
    the input shape.  Inputs (and targets) outside [0, 1] are rejected, as torch does.
    """
    _check_reduction(reduction)
    _check_bce_shape(input, target)
    floor = mpmath.mpf(-100) if clamp_log else mpmath.ninf

    def term(x, t):
        if not 0 <= x <= 1:
            raise ValueError(f"bce input values must be in [0, 1], got {x}")
        if not 0 <= t <= 1:
            raise ValueError(f"bce target values must be in [0, 1], got {t}")
        pos = 0 if t == 0 else -t * max(mpmath.log(x) if x > 0 else mpmath.ninf, floor)
        neg = 0 if t == 1 else -(1 - t) * max(mpmath.log1p(-x) if x < 1 else mpmath.ninf, floor)
        return pos + neg

    terms = _map(term, _mp(input), _mp(target))
    if weight is not None:
        terms = _map(lambda tm, wi: wi * tm, terms, _mp(weight))
    return _reduce(terms, reduction)


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


@_high_precision
def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> np.ndarray:
    """Sigmoid focal loss; torchvision.ops.sigmoid_focal_loss (Lin et al. 2017, "Focal Loss for
    Dense Object Detection").

        p   = sigmoid(x)
        ce  = -(t log p + (1 - t) log(1 - p)) = t softplus(-x) + (1 - t) softplus(x)
        p_t = p t + (1 - p)(1 - t)
        loss = ce (1 - p_t)^gamma                     (0^0 = 1)
        if alpha >= 0: loss *= alpha t + (1 - alpha)(1 - t)

    1 - p_t is evaluated as p (1 - t) + (1 - p) t with 1 - p = sigmoid(-x) (exact
    identities, no cancellation).  Soft targets in [0, 1] use the same formula.
    """
    _check_reduction(reduction)
    a = _finite_param("alpha", alpha)
    g = _finite_param("gamma", gamma)
    if g < 0:
        raise ValueError(f"gamma must be non-negative, got {gamma!r}")
    _check_bce_shape(inputs, targets)

    def term(x, t):
        p, q = _sigmoid(x), _sigmoid(-x)  # q = 1 - p
        ce = t * _softplus(-x) + (1 - t) * _softplus(x)
        one_minus_pt = p * (1 - t) + q * t
        loss = ce * (_ONE if g == 0 else mpmath.power(one_minus_pt, g))
        if a >= 0:
            loss = (a * t + (1 - a) * (1 - t)) * loss
        return loss

    return _reduce(_map(term, _mp(inputs), _mp(targets)), reduction)


# --------------------------------------------------------------------------
# divergence
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# embedding losses
# --------------------------------------------------------------------------

@_high_precision
def hinge_embedding(input, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Hinge embedding loss; torch.nn.functional.hinge_embedding_loss (ATen ``hinge_embedding_loss``).

        term = where(t != 1, max(0, margin - x), 0) + where(t != -1, x, 0)

    i.e. x for t == 1 and max(0, margin - x) for t == -1 (transcribed with
    torch's where-form, so other target values follow torch).  Broadcasts.
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)

    def term(x, t):
        return (max(_ZERO, m - x) if t != 1 else _ZERO) + (x if t != -1 else _ZERO)

    return _reduce(_map(term, _mp(input), _mp(target)), reduction)


def _check_embedding_dims(*arrays) -> None:
    shape = arrays[0].shape
    if len(shape) not in (1, 2) or any(a.shape != shape for a in arrays):
        raise ValueError(f"inputs must share one shape (N, D) or (D,), got {[a.shape for a in arrays]}")


@_high_precision
def triplet_margin(
    anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray:
    """Triplet margin loss; torch.nn.functional.triplet_margin_loss (ATen ``triplet_margin_loss``;
    Balntas et al. 2016).

        d(u, v) = (sum_k |u_k - v_k + eps|^p)^(1/p)   (ATen pairwise_distance: norm(u - v + eps))
        d_pos = d(a, pos);  d_neg = d(a, neg);  swap: d_neg = min(d_neg, d(pos, neg))
        term  = max(0, margin + d_pos - d_neg)

    Inputs (N, D) or (D,); any p > 0 (p = inf gives the max norm).  torch
    rejects margin <= 0.
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    if m <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin!r}")
    pp = mpmath.mpf(float(p))
    if not pp > 0:
        raise ValueError(f"p must be positive, got {p!r}")
    e = _finite_param("eps", eps)
    a, ps, ng = _mp(anchor), _mp(positive), _mp(negative)
    _check_embedding_dims(a, ps, ng)

    def dist(u, v):
        return _pnorm([ui - vi + e for ui, vi in zip(u, v)], pp)

    def term(ar, pr, nr):
        d_pos, d_neg = dist(ar, pr), dist(ar, nr)
        if swap:
            d_neg = min(d_neg, dist(pr, nr))
        return max(_ZERO, m + d_pos - d_neg)

    return _reduce(_rows(term, a, ps, ng), reduction)


@_high_precision
def cosine_embedding(input1, input2, target, margin: float = 0.0, reduction: str = "mean") -> np.ndarray:
    """Cosine embedding loss; torch.nn.functional.cosine_embedding_loss
    (ATen ``cosine_embedding_loss``).

        cos  = sum(a b) / sqrt((sum a^2 + EPS)(sum b^2 + EPS)),   EPS = float32(1e-12)
        term = 1 - cos             if t == 1
               max(0, cos - margin) if t == -1
               0                   otherwise (torch's where-form)

    Inputs (N, D) with target (N,), or (D,) with a 0-d target.  1 - cos is
    evaluated as (S - ab) / S with S = sqrt(AB) and, for ab > 0,
    S - ab = (AB - ab^2) / (S + ab), where AB - ab^2 is formed exactly (no
    cancellation when a and b are nearly parallel).
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    a, b = _mp(input1), _mp(input2)
    _check_embedding_dims(a, b)
    t = _mp(target)
    if t.shape != a.shape[:-1]:
        raise ValueError(f"target shape {t.shape} must equal {a.shape[:-1]}")
    EPS = mpmath.mpf(9.999999960041972e-13)  # float32(1e-12): ATen's EPSILON is a float constant

    def cos_parts(u, v):
        ab = _xdot(u, v)
        A = _xadd(_xdot(u, u), EPS)
        B = _xadd(_xdot(v, v), EPS)
        return ab, mpmath.fmul(A, B, exact=True)

    def term(u, v, tv):
        ab, AB = cos_parts(u, v)
        S = mpmath.sqrt(AB)
        if tv == 1:
            if ab > 0:
                num = mpmath.fsub(AB, mpmath.fmul(ab, ab, exact=True), exact=True)
                return num / (S + ab) / S
            return (S - ab) / S
        if tv == -1:
            return max(_ZERO, ab / S - m)
        return _ZERO

    return _reduce(_rows(term, a, b, per_row=(t,)), reduction)


@_high_precision
def contrastive(input1, input2, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Contrastive loss with Euclidean distance (Hadsell, Chopra & LeCun 2006,
    "Dimensionality Reduction by Learning an Invariant Mapping").

        d    = ||input1 - input2||_2 over the last dim   ((D,) inputs -> 0-d)
        term = 0.5 d^2                   if target == 1  (similar pair)
               0.5 max(0, margin - d)^2  if target == -1 (dissimilar pair)
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    a, b = _mp(input1), _mp(input2)
    _check_embedding_dims(a, b)
    t = _mp(target)
    if t.shape != a.shape[:-1]:
        raise ValueError(f"target shape {t.shape} must equal {a.shape[:-1]}")

    def term(u, v, tv):
        sq = mpmath.fsum((ui - vi) ** 2 for ui, vi in zip(u, v))
        d = mpmath.sqrt(sq)
        return _pm1_where(tv, sq / 2, max(_ZERO, m - d) ** 2 / 2)

    return _reduce(_rows(term, a, b, per_row=(t,)), reduction)


# --------------------------------------------------------------------------
# segmentation
# --------------------------------------------------------------------------

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
