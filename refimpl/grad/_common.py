"""Shared pieces of the analytic gradients (vector-Jacobian products) of the references.

Every ``refimpl.grad.<loss>`` returns ``{arg: vjp, arg + "__mag": magnitude}``:

* ``vjp`` -- what ``loss.backward(grad_output)`` leaves in ``arg.grad`` (float64);
* ``mag`` -- a non-negative array of the same shape: the gradient's formula
  evaluated with the absolute value of every summand that makes it (a running-error
  / condition scale), so that ``K * u * mag`` is a meaningful rounding-error bound
  for an implementation that evaluates the textbook formula in a precision ``u``.

The upstream gradient ``grad_output`` is a scalar (default 1) for 'mean'/'sum'
(and kl_div's 'batchmean') and an array shaped like the unreduced terms (default
ones) for 'none'.  :func:`per_term` turns it into ``d(reduced)/d(term_j) *
grad_output`` for every term j; each loss then applies its per-term derivative.
"""

from __future__ import annotations

import numpy as np

from .._common import as_f64, broadcast_weight, pairwise_sum


def upstream(grad_output, reduction: str, terms_shape) -> np.ndarray:
    """``grad_output`` as float64: the terms' shape for 'none' (default ones), 0-d otherwise (default 1)."""
    terms_shape = tuple(terms_shape)
    if reduction == "none":
        if grad_output is None:
            return np.ones(terms_shape)
        g = as_f64("grad_output", grad_output)
        if g.shape != terms_shape:
            raise ValueError(
                f"grad_output of reduction 'none' must have the unreduced terms' shape {terms_shape}, got {g.shape}"
            )
        return g
    if grad_output is None:
        return np.asarray(1.0)
    g = as_f64("grad_output", grad_output)
    if g.ndim != 0:
        raise ValueError(f"grad_output of reduction {reduction!r} must be a scalar (0-d), got shape {g.shape}")
    return g


def per_term(grad_output, reduction: str, terms_shape, denominator=None) -> np.ndarray:
    """``grad_output * d(reduced loss)/d(term_j)``, shaped like the terms.

    'none': ``grad_output`` itself; 'sum': the scalar broadcast; 'mean' (and any
    mean-like reduction): the scalar over ``denominator`` (default: the number of
    terms, ``apply_loss_reduction``'s mean).
    """
    g = upstream(grad_output, reduction, terms_shape)
    if reduction == "none":
        return g
    if reduction != "sum":
        n = float(np.prod(terms_shape)) if denominator is None else denominator
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.asarray(g / n)
    return np.broadcast_to(g, tuple(terms_shape))


def sum_to_shape(a: np.ndarray, shape) -> np.ndarray:
    """Sum ``a`` over the axes along which an array of ``shape`` was broadcast to ``a.shape``
    (autograd's reduction of a broadcast input's gradient)."""
    shape = tuple(shape)
    if a.shape == shape:
        return np.array(a, dtype=np.float64)
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and a.shape[i + lead] != 1)
    return pairwise_sum(a, axes).reshape(shape) if axes else a.reshape(shape).copy()


def expand_rows(v: np.ndarray) -> np.ndarray:
    """A per-row quantity (shape ``(N,)`` or ``()``) as a column against rows of shape ``(..., D)``."""
    return np.asarray(v)[..., None]


def pnorm_grad(v: np.ndarray, d: np.ndarray, p: float) -> np.ndarray:
    """``d ||v||_p / d v`` along the last axis, given ``d = ||v||_p`` (shape ``v.shape[:-1]``).

    ``sign(v_k) (|v_k| / d)^(p-1)`` -- the ratio form of ``sign(v) |v|^(p-1) / d^(p-1)``,
    free of overflow and underflow (``|v_k| <= d`` for every p > 0).  p = 1: ``sign(v)``;
    p = 2: ``v / d``.  Torch's ``norm_backward`` conventions (FunctionsManual.cpp): a zero
    norm gives a zero gradient (``masked_fill_(norm == 0, 0)``), and so does a zero
    component (``sgn(0) = 0``; for p < 1 ``masked_fill_(self == 0, 0)`` where the power is
    infinite).
    """
    dd = expand_rows(d)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if p == 1.0:
            g = np.sign(v)
        elif p == 2.0:
            g = v / dd
        else:
            g = np.sign(v) * (np.abs(v) / dd) ** (p - 1.0)
    return np.where((dd == 0) | (v == 0), 0.0, g)


def pack(**grads) -> dict:
    """``pack(input=(vjp, mag), ...)`` -> ``{"input": vjp, "input__mag": mag, ...}`` (float64 arrays)."""
    out = {}
    for name, (g, mag) in grads.items():
        out[name] = np.asarray(g, dtype=np.float64)
        out[name + "__mag"] = np.abs(np.asarray(mag, dtype=np.float64))
    return out


def weighted_per_term(grad_output, reduction: str, shape, weight) -> np.ndarray:
    """:func:`per_term` times an element weight broadcast to ``shape`` (BCE and BCE-with-logits;
    their 'mean' divides by the number of elements, not by the weights)."""
    gbar = per_term(grad_output, reduction, shape)
    w = broadcast_weight(weight, shape)
    return gbar if w is None else gbar * w


def weight_gradient(terms: np.ndarray, gbar: np.ndarray, weight) -> tuple[np.ndarray, np.ndarray]:
    """``(d/dweight, mag)`` of a loss linear in an element weight broadcast to the terms (BCE,
    BCE-with-logits): ``sum over the broadcast axes of terms * gbar`` (``gbar``: :func:`per_term`,
    unweighted), mag the sum of ``|terms * gbar|``."""
    shape = np.shape(weight)
    with np.errstate(invalid="ignore"):
        c = terms * gbar
    return sum_to_shape(c, shape), sum_to_shape(np.abs(c), shape)
