"""The one known-deviation model: a recorded deviation and where it applies.

A deviation is a record of ``properties/known_deviations.toml`` (the data: the condition, the
behaviour, the mathematics, the reason, the upstream numbers) with a check function that shows it
on the installed version (``properties.deviations``).  Where it applies is a :class:`KnownDeviation`:

- ``subject``: the implementation that shows it (a qualname; None: the subject that carries the
  record, ``Subject.case_deviations`` and ``LossSpec.builtin_deviations``);
- ``check``: the check family it affects ("agreement", "gradient", "gradcheck", "placement",
  "refusal"; None: the check of the row that carries it -- an edge-case, bad-input, gradient or
  invariant row);
- ``dtypes``: the dtypes it shows in; ``devices``: the device types (None: every one);
- ``when(case, dtype)``: the cases it shows on (None: every case of its row or check).

Where one applies, a failing check is an expected failure naming the record, and a built-in or an
adapter the record names must still show it on the rows that carry it (a plug-in may, not must).
The three ways a record is attached are constructors of this one type: :func:`KnownFailure` (a
row's), :func:`CaseDeviation` (a region of generated cases of a subject) and :func:`Refusal` (an
argument torch does not differentiate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NoReturn

import pytest

from .formats import DTYPE_NAMES


@dataclass(frozen=True)
class KnownDeviation:
    """Where recorded deviation ``deviation`` applies (see the module docstring)."""

    deviation: str
    subject: str | None = None
    check: str | None = None
    dtypes: tuple[str, ...] = DTYPE_NAMES
    when: Callable | None = field(default=None, compare=False)
    why: str = ""
    devices: tuple[str, ...] | None = None

    def covers(self, case=None, dtype: str | None = None, device: str | None = None) -> bool:
        """Whether it applies on ``case`` in ``dtype`` on ``device`` (each unknown: as far as is known)."""
        if dtype is not None and dtype not in self.dtypes:
            return False
        if device is not None and self.devices is not None and device.split(":")[0] not in self.devices:
            return False
        return self.when is None or case is None or bool(self.when(case, dtype))

    def applies(self, case, dtype: str | None = None) -> bool:
        return self.covers(case, dtype)


def find(known, subject: str | None = None, check: str | None = None, dtype: str | None = None,
         case=None, device: str | None = None) -> KnownDeviation | None:
    """The first of ``known`` that applies to ``subject`` (a qualname; None: any), ``check``,
    ``dtype``, ``case`` and ``device`` (each None: not narrowed by it), or None."""
    return next((k for k in known if (subject is None or k.subject is None or k.subject == subject)
                 and (check is None or k.check is None or k.check == check) and k.covers(case, dtype, device)), None)


def KnownFailure(deviation: str, subject: str, dtypes: tuple[str, ...] = DTYPE_NAMES,
                 when: Callable | None = None) -> KnownDeviation:
    """A row's record: ``subject`` fails the row (in ``dtypes``; for a drawn row, on the cases
    ``when(case)`` -- the case as the implementation sees it)."""
    return KnownDeviation(deviation, subject, None, tuple(dtypes),
                          None if when is None else (lambda case, dtype, when=when: when(case)))


def CaseDeviation(deviation: str, check: str, applies: Callable, why: str = "",
                  devices: tuple[str, ...] | None = None) -> KnownDeviation:
    """A subject's record on a region of generated cases: where ``applies(case, dtype)`` (on ``devices``;
    None: every one), a failing ``check`` is an expected failure naming it; ``why`` says what the region is."""
    return KnownDeviation(deviation, None, check, DTYPE_NAMES, applies, why, devices)


def Refusal(deviation: str, applies: Callable | None = None) -> KnownDeviation:
    """An argument torch refuses to differentiate (``RuntimeError: ... is not differentiable with respect
    to argument 'weight'``): an implementation raising that refusal is not differentiated w.r.t. it --
    said in the test's statistics, never silent; one that returns a gradient has it checked.
    ``applies(case)``: where the record holds (None: everywhere)."""
    return KnownDeviation(deviation, None, "refusal", DTYPE_NAMES,
                          None if applies is None else (lambda case, dtype, applies=applies: applies(case)))


class AllowedDeviation(pytest.skip.Exception):
    """A plug-in shows a recorded known deviation the way the recorded implementation does: the test is
    an expected failure naming the record (reported as an xfail by ``properties.pytest_plugin``).  A skip
    to Hypothesis, which re-raises it at once: an allowed deviation is not a failure to shrink (pytest's
    own ``xfail`` is, and shrinking it was half of a correct cross-entropy plug-in's gate run)."""


def allowed(deviation: str) -> NoReturn:
    """End the test as an expected failure: the recorded known deviation ``deviation`` is allowed here."""
    raise AllowedDeviation(f"allowed: recorded known deviation {deviation!r}")
