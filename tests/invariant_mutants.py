"""Deliberately wrong implementations for the invariants: each derived from the (correct) reference
subject, each one realistic way to be wrong, each violating at least one invariant
(``tests/test_invariants_can_fail.py`` maps every invariant to one of them).  The generic ones are
here (by invariant name); a loss's own are ``INVARIANT_MUTANTS`` in its unit."""

from __future__ import annotations

import torch

from .mutants import MUTANTS as OUTPUT_MUTANTS
from properties.specs import UNITS
from properties.subjects import Subject, reference_subject


def _reduce(terms, reduction):
    return terms if reduction == "none" else terms.sum() if reduction == "sum" else terms.mean()


def _output(fn):
    def wrap(base):
        def call(*args, **kwargs):
            return fn(base(*args, **kwargs))
        return call
    return wrap


def _sign_flipped(base):
    """Drops the minus sign of a log-likelihood: every positive term becomes negative."""
    return _output(lambda out: -out)(base)


def _mean_is_sum(base):
    """reduction='mean' forgets to divide (and 'batchmean' too)."""
    def call(*args, **kwargs):
        if kwargs.get("reduction") in ("mean", "batchmean"):
            kwargs = {**kwargs, "reduction": "sum"}
        return base(*args, **kwargs)
    return call


def _sum_is_mean(base):
    """reduction='sum' is silently treated as the default 'mean'."""
    def call(*args, **kwargs):
        if kwargs.get("reduction") == "sum":
            kwargs = {**kwargs, "reduction": "mean"}
        return base(*args, **kwargs)
    return call


def _broadcasts_first_target(base):
    """Broadcasts the second argument's first sample over the batch (a wrong-dimension broadcast)."""
    def call(*args, **kwargs):
        second = args[1]
        if isinstance(second, torch.Tensor) and second.ndim:
            args = (args[0], second[:1].expand_as(second).clone(), *args[2:])
        return base(*args, **kwargs)
    return call


def _perturbs_second(base):
    """Applies a preprocessing step (an offset of 1/16) to the second argument only: asymmetric."""
    def call(*args, **kwargs):
        args = (args[0], args[1] + 0.0625 * (1 + args[1].abs()), *args[2:])
        return base(*args, **kwargs)
    return call


def _normalised(name):
    def wrap(base):
        """Normalises the ``name`` tensor to sum 1 (as some libraries do with class weights)."""
        def call(*args, **kwargs):
            w = kwargs.get(name)
            if w is not None:
                kwargs = {**kwargs, name: w / w.sum()}
            return base(*args, **kwargs)
        return call
    return wrap


MUTANTS = {
    "sign_flipped": _sign_flipped,
    "shifted": OUTPUT_MUTANTS["shifted"],
    "mean_is_sum": _mean_is_sum,
    "sum_is_mean": _sum_is_mean,
    "broadcasts_first_target": _broadcasts_first_target,
    "perturbs_second": _perturbs_second,
    "normalised_weight": _normalised("weight"),
    "normalised_pos_weight": _normalised("pos_weight"),
}

#: The wrong implementation each invariant is shown to catch: by invariant name, then (loss, name) overrides.
BY_NAME = {
    "nonnegative": "sign_flipped", "range": "sign_flipped", "zero_at_optimum": "shifted",
    "value_at_optimum": "shifted", "symmetric": "perturbs_second", "reductions": "mean_is_sum",
    "batch_permutation": "broadcasts_first_target", "batch_split": "sum_is_mean",
    "weight_of_ones": "normalised_weight", "pos_weight_of_ones": "normalised_pos_weight",
}


def mutant_for(inv):
    """``(name, wrap)``: the wrong implementation ``inv`` is shown to catch -- its loss's own
    (``INVARIANT_MUTANTS`` in the unit) or the generic one for its name (``BY_NAME``); None if neither."""
    own = UNITS[inv.loss].INVARIANT_MUTANTS.get(inv.name)
    if own is not None:
        return own.__name__.lstrip("_"), own
    name = BY_NAME.get(inv.name)
    return (name, MUTANTS[name]) if name else None


def mutant(spec, found) -> Subject:
    name, wrap = found
    base = reference_subject(spec)
    fn = wrap(base.fn)
    fn.__signature__ = base.fn.__signature__
    return Subject(spec.name, f"mutant-{name}", f"mutant.{name}", fn)
