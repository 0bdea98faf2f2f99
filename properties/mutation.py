"""Building blocks of deliberately wrong implementations: each unit's ``INVARIANT_MUTANTS`` (the wrong
implementation each of its invariants is shown to catch, ``tests/test_invariants_can_fail.py``) wraps
the reference subject's function ``base`` with them."""

from __future__ import annotations


def reduce_terms(terms, reduction):
    return terms if reduction == "none" else terms.sum() if reduction == "sum" else terms.mean()


def on_output(fn):
    def wrap(base):
        def call(*args, **kwargs):
            return fn(base(*args, **kwargs))
        return call
    return wrap
