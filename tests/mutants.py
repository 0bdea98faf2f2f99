"""Deliberately wrong implementations, derived from the (correct) reference subject, that the
tests use to show each check can fail.  Each is one realistic way to be wrong."""

from __future__ import annotations

import torch

from properties.subjects import Subject, reference_subject


def _contiguous_strides(shape):
    return torch.empty(shape, device="meta").stride()


def _wrap_output(fn):
    def wrap(base):
        def call(*args, **kwargs):
            return fn(base(*args, **kwargs))
        return call
    return wrap


def _ignore_strides(base):
    """Reads every tensor as if it were contiguous from storage offset 0 (a raw-pointer kernel bug)."""
    def call(*args, **kwargs):
        raw = [torch.as_strided(a, a.shape, _contiguous_strides(a.shape), 0) if isinstance(a, torch.Tensor) else a
               for a in args]
        return base(*raw, **kwargs)
    return call


def _swallow_errors(base):
    """Never raises: returns 0 where the right behaviour is an error (no input validation)."""
    def call(*args, **kwargs):
        try:
            return base(*args, **kwargs)
        except Exception:
            return torch.zeros((), dtype=args[0].dtype if args[0].is_floating_point() else torch.float32)
    return call


def _mutates_input(base):
    """Correct value, but flips the sign of its first input in place afterwards (every bit pattern changes)."""
    def call(*args, **kwargs):
        out = base(*args, **kwargs)
        args[0].neg_()
        return out
    return call


MUTANTS = {
    "shifted": _wrap_output(lambda out: out + 0.0625 * (1 + out.abs())),
    "nan_to_number": _wrap_output(lambda out: torch.nan_to_num(out, nan=0.5)),
    "wrong_shape": _wrap_output(lambda out: out.sum() if out.ndim else out.reshape(1)),
    "ignores_strides": _ignore_strides,
    "swallows_errors": _swallow_errors,
    "mutates_input": _mutates_input,
}


def mutant(spec, name: str) -> Subject:
    base = reference_subject(spec)
    fn = MUTANTS[name](base.fn)
    fn.__signature__ = base.fn.__signature__
    return Subject(spec.name, f"mutant-{name}", f"mutant.{name}", fn)
