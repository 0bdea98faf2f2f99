"""The tolerance model: how far an implementation computing in dtype ``d`` may be
from the exact loss.  Every constant of the suite's comparisons lives here.

Model (standard rounding-error analysis, Higham, "Accuracy and Stability of
Numerical Algorithms", 2nd ed., ch. 2-4).  With ``u = 2**-p`` the unit roundoff
of ``d`` (one correctly rounded operation has relative error <= u):

* a loss term ``t_i`` computed by a short chain of operations on inputs that are
  already exact in ``d`` (the reference sees the rounded inputs torch saw) has
  error ``<= u * s_i``: ``s_i`` is the *error budget* of the term, the sum over
  the chain's operations of the magnitude of the value each one rounds
  (transcendentals count 2: libm / SLEEF are within 1 ulp), amplified by the
  condition of what follows it.  The ``scale_*`` functions below compute ``s_i``
  for each loss from the reference's own quantities, each with its derivation;
* a sum of ``n`` terms (pairwise / cascade, as torch and NumPy sum) adds
  ``<= ceil(log2 n) * u * sum|t_i|`` (Higham eq. 4.6); dividing by a mean's
  denominator ``D`` (itself a sum: relative ``ceil(log2 n) * u``) adds
  ``(ceil(log2 n) + 2) * u * |result|``.  For the long reductions the strategies
  draw (1000..4096 terms) that is 10..12 u: what a correct implementation without
  a wider accumulator achieves (pairwise summation in the dtype: error/bound at most
  0.19 on MSE's long sums in float16/bfloat16/float32; torch, whose half-precision
  sums accumulate in float32: 0.26), and what recursive summation in the dtype --
  ``(n - 1) u sum|t_i|``, half precision stopping to grow once the terms fall below
  half an ulp of the sum -- does not (error/bound up to 2.7 / 14 / 40;
  tests/test_tightness.py::test_long_sum_bound_admits_pairwise_and_rejects_term_by_term);
* the result is stored in ``d``: ``u * |result|``;
* terms below ``d``'s normal range lose up to ``FLOOR_SUBNORMALS`` subnormal
  spacings each (gradual underflow is absolute, not relative);
* the float64 reference has its own error, bounded by the same budget with
  float64's ``u``: the bound uses ``u_d + u_64``.

So ``bound = (u_d + u_64) * S + floor`` with ``S`` the reduced budget
(:func:`bound`).  No ``rtol``/``atol`` pairs anywhere.  ``tests/test_tightness.py``
shows the bound is tight: implementations off by bug-sized amounts fail it,
and the suite records the largest ``error / bound`` it sees (README).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from refimpl._distance import pnorm_rows
from refimpl.bce_with_logits import softplus
from refimpl.cross_entropy import neg_log_softmax_parts

from .cases import Case
from .formats import FLOAT64, FloatFormat, log2_ceil

#: Subnormal spacings an underflowing term may lose: a term is a chain of at most
#: ~8 operations, each of which may round into the subnormal range once.
FLOOR_SUBNORMALS = 8


def bound(fmt: FloatFormat, reduction: str, terms: np.ndarray, budget: np.ndarray, result: np.ndarray,
          denominator: float | None = None, underflow_gain=1.0) -> np.ndarray:
    """Largest admissible ``|impl - reference|`` for ``result`` (reference, this reduction).

    ``terms``/``budget``: the reference's unreduced terms and their error budgets
    (units of u); ``denominator``: what a mean divides the sum by; ``underflow_gain``:
    per term, how much an intermediate lost to underflow is amplified (default 1).
    """
    u = fmt.u + FLOAT64.u
    floor = FLOOR_SUBNORMALS * fmt.subnormal * np.broadcast_to(underflow_gain, np.shape(terms))
    terms = np.abs(np.nan_to_num(terms, nan=0.0, posinf=0.0, neginf=0.0))
    budget = np.nan_to_num(budget, nan=0.0, posinf=0.0, neginf=0.0)
    res = np.abs(np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0))
    if reduction == "none":
        return u * (budget + terms) + floor
    depth = log2_ceil(terms.size)
    total = u * (np.sum(budget) + depth * np.sum(terms)) + np.sum(floor)
    if reduction == "sum":
        return np.asarray(total + u * res)
    d = abs(denominator) if denominator else 1.0
    return np.asarray(total / d + (depth + 2) * u * res)


def budget(scale, case: Case, terms, fmt: FloatFormat) -> np.ndarray:
    """``scale(case, terms)``, in ``fmt`` where the budget depends on the dtype's unit roundoff
    (a ``scale_*`` with a ``fmt`` parameter: an error that is not linear in u, e.g.
    :func:`scale_focal`'s ``(1 - p_t)^gamma`` when 1 - p_t is as small as its rounding error)."""
    if "fmt" in _parameters(scale):
        return scale(case, terms, fmt=fmt)
    return scale(case, terms)


@functools.lru_cache(maxsize=None)
def _parameters(fn) -> tuple[str, ...]:
    return tuple(inspect.signature(fn).parameters)


def _row_len(a: np.ndarray) -> int:
    return a.shape[-1] if a.ndim else 1


# --- per-loss error budgets (units of u), one function per loss --------------------
# Each returns an array shaped like the loss's unreduced terms.


def scale_mse(case: Case, terms):
    """w (x - y)^2: subtract, square, weight, and the weighted mean's divide: 4 roundings of |t|."""
    return 4 * np.abs(terms)


def scale_huber(case: Case, terms):
    """z = |x-y|; 0.5 z^2 (2 ops of ~|t|) or delta (z - delta/2): the rounding of z
    is amplified to delta*z (<= 2|t|); 4 roundings of max(|t|, delta z), times |w|."""
    x, y = case.args["input"], case.args["target"]
    delta = case.kwargs.get("delta", 1.0)
    z = np.abs(x - y)
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * np.maximum(np.abs(terms), w * delta * z)


def scale_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta (3 ops of ~|t|) or z - beta/2 (the rounding of z counts |z|): 4 roundings."""
    z = np.abs(case.args["input"] - case.args["target"])
    return 4 * np.maximum(np.abs(terms), z)


def underflow_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta: z^2 may round in the subnormal range before the division by beta,
    which amplifies that absolute error by 1/beta.  (Measured: float16, z = 1e-4,
    beta = 1e-3: z^2 flushes to 0, the term 5e-6 becomes 0.)"""
    beta = case.kwargs.get("beta", 1.0)
    if beta == 0:
        return 1.0
    z = np.abs(case.args["input"] - case.args["target"])
    return np.where(z < beta, 1.0 + 1.0 / beta, 1.0)


def underflow_weighted(case: Case, terms):
    """mse / huber / bce / bce_with_logits with ``weight`` (and ``pos_weight``): the unweighted
    term (r^2, log1p(-x), ...) may round in the subnormal range before the product with the
    weights, which scales that absolute error by them.  (Measured: float16, r = 1.8e-3, w = 100:
    r^2 = 3.4e-6 is subnormal, the weighted term is 6 ulp off; float32 BCE, x = 2^-149, t = 0,
    w = 10: torch's log1p(-x) returns 0, the term 10 x is 10 subnormal spacings off.)"""
    gain = np.ones(np.shape(terms))
    for name in ("weight", "pos_weight"):
        w = case.kwargs.get(name)
        if w is not None:
            gain = gain * np.maximum(1.0, np.abs(np.broadcast_to(np.asarray(w, dtype=np.float64), np.shape(terms))))
    return gain


def _lse_budget(x: np.ndarray, axis: int):
    """Budget of -log_softmax(x)_c per entry, and the parts it is built from.

    torch computes d = x - max (error u|d_c|), exp (relative u|d_c| + 2u),
    a sum over C (depth L_C), log (2u) and the final subtraction; the error of
    the log-sum is the softmax-weighted mean of the exp errors:
        budget_c = |d_c| + l + R + L_C + 6,   R = sum_c softmax_c |d_c|,
    with l = log1p(sum_{j != argmax} exp(d_j)) as in the reference.  A masked class (logit -inf,
    d_c = -inf) has exp(d_c) = 0 exactly: it adds no error to the log-sum (its p_c |d_c| term is 0,
    not 0 * inf = NaN, which the bound would read as a budget of 0 for every class of the row).
    """
    d, l = neg_log_softmax_parts(x, axis)
    p = np.exp(d - l)
    with np.errstate(invalid="ignore"):
        r = np.sum(np.where(p > 0, p * np.abs(d), 0.0), axis=axis, keepdims=True)
    return np.abs(d) + l + r + log2_ceil(x.shape[axis]) + 6, d, l


def scale_cross_entropy(case: Case, terms):
    """Index targets: (1-eps) w_t budget_t + (eps/C) sum_c w_c budget_c (+ L_C |smooth| for its sum);
    probability targets: sum_c w_c q'_c budget_c + (L_C + 3)|t|.  See :func:`_lse_budget`."""
    x = case.args["input"]
    axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[axis]
    b, _, _ = _lse_budget(x, axis)
    w = case.kwargs.get("weight")
    wshape = [1] * x.ndim
    wshape[axis] = n_classes
    w_b = np.ones(wshape) if w is None else np.abs(w).reshape(wshape)
    eps = case.kwargs.get("label_smoothing", 0.0)
    t = case.args["target"]
    lc = log2_ceil(n_classes)
    if t.dtype.kind == "f":
        q = t * (1 - eps) + eps / n_classes if eps > 0 else t
        return np.sum(np.abs(q) * w_b * b, axis=axis) + (lc + 3) * np.abs(terms)
    ignored = t == case.kwargs.get("ignore_index", -100)
    idx = np.expand_dims(np.where(ignored, 0, t), axis)
    nll_b = np.squeeze(np.take_along_axis(w_b * b, idx, axis), axis)
    # without smoothing the smoothing sum is not computed: no budget (0 * an infinite budget of a
    # masked class would be NaN); with it, a masked class makes the term infinite, compared exactly
    smooth_b = np.sum(w_b * b, axis=axis) * (1 + lc / 4) * (eps / n_classes) if eps > 0 else 0.0
    s = (1 - eps) * nll_b + smooth_b + 3 * np.abs(terms)
    return np.where(ignored, 0.0, s)


def scale_bce(case: Case, terms):
    """(t-1) max(log1p(-x), -100) - t max(log x, -100), times w: each log 2u, each
    product and the difference u: 4 roundings of each part's magnitude."""
    x, t = case.args["input"], case.args["target"]
    with np.errstate(divide="ignore"):
        a = np.abs(t) * np.minimum(-np.log(x), 100.0)
        b = np.abs(1 - t) * np.minimum(-np.log1p(-x), 100.0)
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * w * (a + b) + 2 * np.abs(terms)


def scale_bce_with_logits(case: Case, terms):
    """torch: (1-t) x - (1 + (pw-1) t) log_sigmoid(x), times w.  The two parts cancel for
    x << 0, t = 0, so each part's magnitude carries 4 roundings (the reference does not cancel).
    The coefficient 1 + (pw-1) t is itself formed with cancellation: for a small pos_weight and
    t = 1 its absolute error is u (1 + |pw-1| t), not u pw -- torch's positive-class loss then has
    relative error ~u/pw (measured: 16 ulp in float32 at pw = 0.01), so the budget counts it."""
    x, t = case.args["input"], case.args["target"]
    pw = case.kwargs.get("pos_weight")
    lw = 1.0 if pw is None else np.abs(1 + (pw - 1) * t) + 2 * (1 + np.abs((pw - 1) * t))
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * w * (np.abs((1 - t) * x) + lw * softplus(-x)) + 2 * np.abs(terms)


def underflow_kl_div(case: Case, terms):
    """log_target: exp(t) is rounded to the dtype before the product (a composite op), so
    an exp(t) lost to underflow (< half a subnormal) costs |t - x| subnormals.
    (Measured: bfloat16 exp(-93) = 0, the term -3.8e-39 becomes -0.)"""
    if not case.kwargs.get("log_target", False):
        return 1.0
    return 1.0 + np.abs(case.args["target"] - case.args["input"])


def scale_kl_div(case: Case, terms):
    """xlogy(t, t) - t x: 3 roundings of |t log t| (log 2u), 2 of |t x|, 1 of |t|;
    log_target: exp(t) (t - x), no cancellation beyond the exact inputs': 4 |t|."""
    x, t = case.args["input"], case.args["target"]
    if case.kwargs.get("log_target", False):
        return 4 * np.abs(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        tlogt = np.where(t == 0, 0.0, np.abs(t * np.log(t)))
        tx = np.where(t == 0, 0.0, np.abs(t * x))
    return 3 * tlogt + 2 * tx + np.abs(terms)


def scale_hinge_embedding(case: Case, terms):
    """y = 1: x, exact.  y = -1: max(margin - x, 0): one rounding of |margin| + |x|."""
    x, y = case.args["input"], case.args["target"]
    m = abs(case.kwargs.get("margin", 1.0))
    return np.where(y == 1, 0.0, m + np.abs(x))


def _pnorm_budget(u, v, p, eps):
    """Budget of d = ||u - v + eps||_p relative to itself: the difference and the +eps
    (2u), |.|^p (relative p*2u + 2u), a sum of D (depth L_D), and the 1/p root,
    which scales the sum's relative error by 1/p:  2 + (2 + L_D + 2) / p.
    For p other than 1 and 2 the root is pow(s, 1/p) with 1/p rounded: its relative
    error u/p times |ln s| = p |ln d| adds |ln d| (measured: 102 ulp at d = 1e90, p = 3)."""
    d = pnorm_rows(u - v + eps, p)
    with np.errstate(divide="ignore"):
        root = 0.0 if p in (1.0, 2.0) else np.where(d > 0, np.abs(np.log(np.where(d > 0, d, 1.0))), 0.0)
    return d * (2 + (4 + log2_ceil(_row_len(u))) / p + 2 + root), d


def scale_triplet_margin(case: Case, terms, fmt: FloatFormat | None = None):
    """margin + d_pos - d_neg cancels: each distance's budget counts, plus 2 |margin|.

    In ``fmt``: torch forms sum |d_i|^p in the dtype, and a component whose p-th power falls below
    the normal range is lost (float32, p = 4, |d_i| = 4.3e-12: |d_i|^4 = 3.4e-46 is 0, d(a, n) = 0
    for 4.3e-12): by the triangle inequality each distance may lose up to (D tiny)^(1/p)
    absolute, counted here in units of u (the comparison's bound multiplies by u)."""
    a, pos, neg = (case.args[k] for k in ("anchor", "positive", "negative"))
    p, eps = float(case.kwargs.get("p", 2)), float(case.kwargs.get("eps", 1e-6))
    b_pos, _ = _pnorm_budget(a, pos, p, eps)
    b_neg, _ = _pnorm_budget(a, neg, p, eps)
    n_dist = 2
    if case.kwargs.get("swap", False):
        b_neg = b_neg + _pnorm_budget(pos, neg, p, eps)[0]
        n_dist = 3
    lost = 0.0 if fmt is None else n_dist * (_row_len(a) * fmt.tiny) ** (1.0 / p) / fmt.u
    return 2 * case.kwargs.get("margin", 1.0) + b_pos + b_neg + lost


def scale_cosine_embedding(case: Case, terms):
    """cos = <a,b> / sqrt((|a|^2+EPS)(|b|^2+EPS)): the dot product's error (L_D + 1) u sum|a b|
    over the denominator, the norms', product's, sqrt's and division's relative error
    (L_D + 5) |cos|; then 1 - cos or cos - margin: 1 + |margin|."""
    a, b = case.args["input1"], case.args["input2"]
    ld = log2_ceil(_row_len(a))
    den = np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    cos = np.sum(a * b, -1) / den
    return (ld + 1) * np.sum(np.abs(a * b), -1) / den + (ld + 5) * np.abs(cos) + 1 + abs(case.kwargs.get("margin", 0.0))


def scale_contrastive(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """d = ||a - b||_2 (relative L_D + 4); similar: 0.5 d^2 doubles it (+2);
    dissimilar: 0.5 (margin - d)^2 with the subtraction's error delta = u e, e = margin + (L_D+4) d:
    0.5 (gap + delta)^2 - 0.5 gap^2 = gap delta + delta^2 / 2 -- the linear part doubled (2 gap e), and the
    square of the error itself, u e^2 in units of u, which is all there is where d is within delta of the
    margin (gap ~ 0: float16, d ~ margin ~ 2.2, 0.5 (m - d)^2 = 1.9e-9 computed as 1.9e-6).  It depends on
    the dtype's u: the budget takes the format."""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    ld = log2_ceil(_row_len(a))
    d = pnorm_rows(a - b, 2.0)
    m = case.kwargs.get("margin", 1.0)
    gap = np.maximum(m - d, 0.0)
    e = abs(m) + (ld + 4) * d
    near = np.where(d < abs(m) + fmt.u * e, fmt.u * e * e, 0.0)  # d within the error of the margin, or below it
    return np.where(y == 1, (2 * ld + 10) * 0.5 * d * d, 2 * gap * e + near) + 2 * np.abs(terms)


def scale_focal(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """torchvision: ce * (1 - p_t)^gamma * alpha_t, with q = 1 - p_t and f = q^gamma.

    * ce: its budget as BCE-with-logits (``ce_b``: torch's ``(1-t) x - log_sigmoid(x)`` cancels
      for x << 0, t -> 0, so each part's magnitude carries 4 roundings).
    * q is formed as ``1 - (p t + (1-p)(1-t))``: an absolute error up to ``delta = 4 u``, whatever
      q is (1 - p_t cancels; the reference forms q without cancellation).  The factor's worst
      change under it is taken exactly, not linearised:
          h = max((q + delta)^g - q^g,  q^g - max(q - delta, 0)^g)
      (q^g is monotone, so the extremes lie at the ends; the computed q is >= 0).  For
      delta << q this is the old linear estimate ``4 g u q^(g-1)`` (same budget); where delta is
      comparable to q it is not: for 0 < g < 1 a q that rounds to 0 loses the whole factor, up
      to 1/g times the linear estimate (counterexample, torchvision's formula: float64, x = 37.5,
      t = 1, g = 0.01: sigmoid(37.5) rounds to 1, 1 - p_t = 0, the term 8.9e-18 becomes 0,
      5.8 times the linear bound; float32 x = 17: 17 times; bfloat16 x = 8: 2 times), and for
      g > 1 the convex factor grows faster than linearly.  h depends on the dtype's u, so this
      budget takes the format (``fmt``; ``budget`` passes it).  Computed with expm1/log1p where
      delta < q (no cancellation) and directly elsewhere: no q^(g-1), which overflowed float64
      for a subnormal q and small g (q = 2.2e-313, g = 0.0078: 1.7e310 -> inf, which
      ``bound`` turns into a budget of 0 -- the bound collapsed to the subnormal floor).
    * the product: ce's error multiplies the *computed* factor, at most q^g + h; f's error
      multiplies ce:  S = alpha_t (ce_b (q^g + h) + ce h / u) + 4 |t|  (units of u = u_d + u_64;
      the 4 |t| for the products with (1 - p_t)^g and alpha_t and alpha_t's own roundings)."""
    x, t = case.args["inputs"], case.args["targets"]
    alpha, gamma = case.kwargs.get("alpha", 0.25), case.kwargs.get("gamma", 2.0)
    from refimpl.bce_with_logits import sigmoid

    u = fmt.u + FLOAT64.u
    delta = 4 * u
    q = t * sigmoid(-x) + (1 - t) * sigmoid(x)  # 1 - p_t
    ce = t * softplus(-x) + (1 - t) * softplus(x)
    ce_b = 4 * (np.abs((1 - t) * x) + softplus(-x)) + 2 * ce
    at = np.abs(alpha * t + (1 - alpha) * (1 - t)) if alpha >= 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = q**gamma
        r = np.where(q > delta, delta / np.where(q > delta, q, 1.0), 0.0)  # < 1 where used
        small_up = f * np.expm1(gamma * np.log1p(r))
        small_down = -f * np.expm1(gamma * np.log1p(-r))
        h = np.where(q > delta, np.maximum(small_up, small_down),
                     np.maximum((q + delta) ** gamma - f, f - np.maximum(q - delta, 0.0) ** gamma))
    h = np.where(ce == 0, 0.0, h) if gamma > 0 else np.zeros_like(f)
    return at * (ce_b * (f + h) + ce * h / u) + 4 * np.abs(terms)


def scale_dice(case: Case, terms):
    """MONAI: 1 - (2I + s_nr) / (G + P + s_dr): three sums over S elements (depth L_S),
    the ratio's relative error (2 L_S + 6) u, then 1 - ratio: 1 + (2 L_S + 6) ratio.
    The reference's cancellation-free mismatch / denominator has relative error
    (2 L_S + 6) u of f instead; the budget covers both algorithms: (2 L_S + 6)(ratio + |f|)."""
    p = case.args["input"]
    spatial = int(np.prod(p.shape[2:])) * (p.shape[0] if case.kwargs.get("batch", False) else 1)
    ratio = np.abs(1 - terms)
    return 1 + (2 * log2_ceil(spatial) + 6) * (ratio + np.abs(terms)) + np.abs(terms)


def underflow_dice(case: Case, terms):
    """Underflow gain of a Dice term: each of its three sums (I = g.p, G, P -- of squares with
    ``squared_pred``) adds S elements, each of which may lose ``FLOOR_SUBNORMALS`` subnormal spacings
    (a squared subnormal flushes to 0 whole), and the loss 1 - (2I + s_nr) / den moves by 2 / den per
    unit of I and by ratio / den per unit of G or P: gain S (2 + 2 ratio) / den.  (Measured: float16,
    2620 targets of 3.05e-5 squared to 0, s = 6.1e-5: the loss 0.038 computed as 0.)"""
    p, g = case.args["input"], case.args["target"]
    if not case.kwargs.get("include_background", True) and p.shape[1] > 1:
        p, g = p[:, 1:], g[:, 1:]
    axes = tuple(range(2, p.ndim)) if not case.kwargs.get("batch", False) else (0, *range(2, p.ndim))
    k = 2 if case.kwargs.get("squared_pred", False) else 1
    with np.errstate(all="ignore"):
        den = np.sum(np.abs(g) ** k, axis=axes) + np.sum(np.abs(p) ** k, axis=axes) + abs(case.kwargs.get("smooth_dr", 1e-5))
    count = int(np.prod([p.shape[a] for a in axes], dtype=np.int64))
    ratio = np.abs(1 - np.asarray(terms))
    with np.errstate(all="ignore"):
        gain = count * (2 + 2 * ratio) / den
    return np.where(np.isfinite(gain), gain, 0.0)


#: Roundings in one gradient element's formula (forward intermediates recomputed by the
#: backward pass, the chain-rule products, the mean's division), each of a quantity
#: bounded by the element's magnitude ``mag`` (``refimpl.grad``: the formula with the
#: absolute value of every summand).  Sums over a row add their pairwise depth.
GRADIENT_OPS = 8


#: Losses whose gradient takes a sigmoid the way torch does, 1 / (1 + exp(-x)): exp(-x) overflows
#: for x < -ln(max), and a sigmoid below 1/max (a quarter of the smallest normal number) is then 0
#: instead of rounding gradually.  Measured: float64, x = -710.7, t = 2.2e-309: torch's
#: d/dx = sigmoid(x) - t is -2.2e-309 for the exact 1.0e-317 (4.5e14 subnormal spacings; reached by
#: logits drawn close to logit(t)).  The value is unaffected (log1p(exp(-|x|)) underflows gradually).
SIGMOID_GRADIENT = ("bce_with_logits", "focal")


def gradient_flush(loss: str, fmt: FloatFormat) -> float:
    """The absolute amount a gradient element of ``loss`` may lose to a flushed sigmoid in ``fmt``
    (``SIGMOID_GRADIENT``): 1 / max, else 0."""
    return 1.0 / fmt.max if loss in SIGMOID_GRADIENT else 0.0


def gradient_bound(fmt: FloatFormat, mag: np.ndarray, n_summed: int, underflow_gain: float = 1.0,
                   flush: float = 0.0, collected: int = 1) -> np.ndarray:
    """Largest admissible ``|autograd - analytic|`` for a gradient element of magnitude ``mag``,
    when ``n_summed`` contributions may be summed into it (class sums, row norms).

    ``underflow_gain``: what multiplies an intermediate after it may have rounded in the
    subnormal range -- the class / element weights (``weight``, ``pos_weight``): a softmax
    entry e^-100 is subnormal in float32 and weight 100 scales its rounding error (measured:
    45 subnormal spacings).  ``flush``: an absolute amount an intermediate may lose below the normal
    range at once (``gradient_flush``), scaled by the same gain.  ``collected``: the number of terms
    whose gradients are summed into one element (an argument broadcast over the terms, a weight): each
    is formed in the dtype and may lose its floor before the sum (float16: 4096 per-term gradients of
    ~6e-8, subnormal, summed into a 0-d target's gradient lost 441 subnormal spacings)."""
    u = fmt.u + FLOAT64.u
    floor = (FLOOR_SUBNORMALS * fmt.subnormal + flush) * max(1.0, float(underflow_gain)) * max(1, int(collected))
    return u * (GRADIENT_OPS + log2_ceil(max(int(n_summed), 1))) * np.abs(mag) + floor


def gradient_underflow_gain(case: Case, forward_gain=1.0) -> float:
    """The largest factor a gradient's possibly-subnormal intermediate is multiplied by: the
    weights (1 without), or the loss's own forward amplification (``LossSpec.underflow``, e.g.
    kl_div log_target: exp(t) (t - x + 1), with exp(-100) subnormal in float32: 45 spacings)."""
    weights = [np.max(np.abs(case.kwargs[k])) for k in ("weight", "pos_weight")
               if isinstance(case.kwargs.get(k), np.ndarray) and case.kwargs[k].size]
    forward = np.nan_to_num(np.asarray(forward_gain, dtype=np.float64), nan=1.0, posinf=1.0)
    return max([1.0, *weights, float(np.max(forward)) if forward.size else 1.0])
