"""The tolerance model: how far an implementation computing in dtype ``d`` may be
from the exact loss.  Every constant of the suite's comparisons lives here; each loss's error
budget (the formula of its terms' roundings) lives in its unit, ``properties/specs/<loss>.py``.

Model (standard rounding-error analysis, Higham, "Accuracy and Stability of
Numerical Algorithms", 2nd ed., ch. 2-4).  With ``u = 2**-p`` the unit roundoff
of ``d`` (one correctly rounded operation has relative error <= u):

* a loss term ``t_i`` computed by a short chain of operations on inputs that are
  already exact in ``d`` (the reference sees the rounded inputs torch saw) has
  error ``<= u * s_i``: ``s_i`` is the *error budget* of the term, the sum over
  the chain's operations of the magnitude of the value each one rounds
  (transcendentals count 2: libm / SLEEF are within 1 ulp), amplified by the
  condition of what follows it.  The ``scale_<loss>`` functions (each in its unit,
  ``properties/specs/<loss>.py``) compute ``s_i`` for each loss from the reference's own quantities, each with its derivation;
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
    ``properties.specs.focal.scale_focal``'s ``(1 - p_t)^gamma`` when 1 - p_t is as small as its rounding error)."""
    if "fmt" in _parameters(scale):
        return scale(case, terms, fmt=fmt)
    return scale(case, terms)


@functools.lru_cache(maxsize=None)
def _parameters(fn) -> tuple[str, ...]:
    return tuple(inspect.signature(fn).parameters)


def row_len(a: np.ndarray) -> int:
    """The length of the last axis (1 for a 0-d array): the terms of a row sum."""
    return a.shape[-1] if a.ndim else 1


# --- per-loss error budgets (units of u) ---------------------------------------------
# Each loss's budget is ``scale_<loss>`` in its unit, properties/specs/<loss>.py (``LossSpec.scale``),
# an array shaped like the loss's unreduced terms; the shared pieces live here.


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


#: Roundings in one gradient element's formula (forward intermediates recomputed by the
#: backward pass, the chain-rule products, the mean's division), each of a quantity
#: bounded by the element's magnitude ``mag`` (``refimpl.grad``: the formula with the
#: absolute value of every summand).  Sums over a row add their pairwise depth.
GRADIENT_OPS = 8


#: Losses whose gradient takes a sigmoid the way torch does (``LossSpec.sigmoid_gradient``), 1 / (1 + exp(-x)): exp(-x) overflows
#: for x < -ln(max), and a sigmoid below 1/max (a quarter of the smallest normal number) is then 0
#: instead of rounding gradually.  Measured: float64, x = -710.7, t = 2.2e-309: torch's
#: d/dx = sigmoid(x) - t is -2.2e-309 for the exact 1.0e-317 (4.5e14 subnormal spacings; reached by
#: logits drawn close to logit(t)).  The value is unaffected (log1p(exp(-|x|)) underflows gradually).
def gradient_flush(spec, fmt: FloatFormat) -> float:
    """The absolute amount a gradient element of ``spec``'s loss may lose to a flushed sigmoid in ``fmt``
    (``spec.sigmoid_gradient``): 1 / max, else 0."""
    return 1.0 / fmt.max if spec.sigmoid_gradient else 0.0


def gradient_bound(fmt: FloatFormat, mag: np.ndarray, n_summed: int, underflow_gain: float = 1.0,
                   flush: float = 0.0, collected: int = 1, sequential: int = 0) -> np.ndarray:
    """Largest admissible ``|autograd - analytic|`` for a gradient element of magnitude ``mag``,
    when ``n_summed`` contributions may be summed into it (class sums, row norms).

    ``underflow_gain``: what multiplies an intermediate after it may have rounded in the
    subnormal range -- the class / element weights (``weight``, ``pos_weight``): a softmax
    entry e^-100 is subnormal in float32 and weight 100 scales its rounding error (measured:
    45 subnormal spacings).  ``flush``: an absolute amount an intermediate may lose below the normal
    range at once (``gradient_flush``), scaled by the same gain.  ``collected``: the number of terms
    whose gradients are summed into one element (an argument broadcast over the terms, a weight): each
    is formed in the dtype and may lose its floor before the sum (float16: 4096 per-term gradients of
    ~6e-8, subnormal, summed into a 0-d target's gradient lost 441 subnormal spacings).  ``sequential``:
    how many of the contributions are added one after another (``sequential_sum``): that many roundings
    deep on top of log2 n_summed."""
    u = fmt.u + FLOAT64.u
    floor = (FLOOR_SUBNORMALS * fmt.subnormal + flush) * max(1.0, float(underflow_gain)) * max(1, int(collected))
    depth = int(sequential) + log2_ceil(max(int(n_summed), 1))
    return u * (GRADIENT_OPS + depth) * np.abs(mag) + floor


def sequential_sum(arg_shape: tuple, terms_shape: tuple) -> int:
    """How many terms are added one after another into a gradient element of an argument of ``arg_shape``
    broadcast to ``terms_shape`` (0: none, a cascade): torch's CPU sum over the broadcast dimensions
    (``sum_to_size``) is a cascade when they form one block, but where a kept dimension (size > 1) lies
    between two summed ones, the blocks outside the innermost are accumulated sequentially: the product
    of their sizes.  (Measured, float64, a (n, 2, 2) tensor of equal terms summed over dims 0 and 2:
    10 u at n = 64, 87 u at 604, 541 u at 4096, 2170 u at 16384; over dim 0 alone 1-6 u.  mse's (1, 2, 1)
    target against a (604, 2, 2) input: its gradient 88 u off, where log2 n allowed 38 u.)  The same order
    as the forward's known deviation torch_sum_of_expanded_tensor_accumulates_sequentially (pytorch#37234);
    a gradient cannot be drawn around it (every such broadcast's backward sums this way), so it is modelled."""
    arg, terms = tuple(arg_shape), tuple(terms_shape)
    if len(arg) > len(terms) or int(np.prod(arg, dtype=np.int64)) >= int(np.prod(terms, dtype=np.int64)):
        return 0  # not broadcast to the terms (a row loss's (N, D) argument, a weight of the input's shape)
    arg = (1,) * (len(terms) - len(arg)) + arg
    blocks, inside = [], False  # the sizes of each run of summed dimensions (those of the terms larger than 1)
    for a, t in zip(arg, terms):
        if t == 1:
            continue
        if a == 1:
            blocks.append(blocks.pop() * t if inside else t)
        inside = a == 1
    return int(np.prod(blocks[:-1], dtype=np.int64)) if len(blocks) > 1 else 0


def gradient_underflow_gain(case: Case, forward_gain=1.0) -> float:
    """The largest factor a gradient's possibly-subnormal intermediate is multiplied by: the
    weights (1 without), or the loss's own forward amplification (``LossSpec.underflow``, e.g.
    kl_div log_target: exp(t) (t - x + 1), with exp(-100) subnormal in float32: 45 spacings)."""
    weights = [np.max(np.abs(case.kwargs[k])) for k in ("weight", "pos_weight")
               if isinstance(case.kwargs.get(k), np.ndarray) and case.kwargs[k].size]
    forward = np.nan_to_num(np.asarray(forward_gain, dtype=np.float64), nan=1.0, posinf=1.0)
    return max([1.0, *weights, float(np.max(forward)) if forward.size else 1.0])
