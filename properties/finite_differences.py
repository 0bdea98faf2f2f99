"""What the finite-difference check of a loss's analytic gradient needs to know about the loss
(``tests/test_reference_gradients.py`` states the check and its tolerance): each unit's
``FINITE_DIFFERENCES``.

* ``step(case, arg)``: the step per element, ``H0 = eps^(1/3)`` times the scale of the quantities the
  element is combined with (the optimum of truncation ~h^2 against rounding ~eps/h);
* ``signature(case)``: which side of every kink each term is on (an element is differenced only where
  the signature is the same at every stencil point);
* ``skip(case, arg)``: elements whose returned gradient is a documented convention, not a derivative;
* ``term(case, arg, idx)``: the index of the one unreduced term the element enters (None: none);
* ``fixed_case(rng)``: one moderate, well-conditioned case with the parameters whose omission the
  "dropped term" mutant simulates, and ``dropped``: the keyword overrides (or a case rewrite) that
  drop a term from the gradient -- a plausible bug the comparison must reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

H0 = np.finfo(np.float64).eps ** (1.0 / 3.0)


def rows_scale(case, arg):
    """Largest magnitude in the element's row over all float arguments (embedding losses)."""
    m = np.max([np.max(np.abs(v), axis=-1, keepdims=True) for v in case.args.values() if v.ndim == case.args[arg].ndim
                and v.dtype.kind == "f"], axis=0)
    return np.broadcast_to(np.maximum(m, 1.0), case.args[arg].shape)


def partner_scale(case, arg):
    x, y = case.args["input"], case.args["target"]
    return np.maximum(np.maximum(np.abs(x), np.abs(y)), 1.0)


def default_scale(case, arg):
    return np.maximum(np.abs(case.args[arg]), 1.0)


def pieces(r, knot):
    """Which piece of a Huber-like function r is on: -1 (r < -knot), 0, 1 (r > knot); sign(r) for knot 0."""
    return np.where(r > knot, 1.0, np.where(r < -knot, -1.0, 0.0)).ravel() if knot > 0 else np.sign(r).ravel()


def bounded_step(case, arg):
    """bce's input and target live in [0, 1]: a step relative to the distance to the nearer end."""
    v = case.args[arg]
    return H0 * np.minimum(v, 1.0 - v)


def no_kinks(case):
    return np.zeros(0)


def nothing_skipped(case, arg):
    return np.zeros(case.args[arg].shape, dtype=bool)


def elementwise_term(case, arg, idx):
    return idx


def row_term(case, arg, idx):
    return idx[:-1]


def scaled(scale):
    return lambda case, arg: H0 * scale(case, arg)


@dataclass(frozen=True)
class FiniteDifferences:
    """A loss's finite-difference knowledge (see the module docstring)."""

    step: Callable
    fixed_case: Callable
    dropped: dict | Callable
    signature: Callable = no_kinks
    skip: Callable = nothing_skipped
    term: Callable = elementwise_term
