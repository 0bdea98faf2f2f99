"""What a partial implementation is checked on: the spec fitted to a plug-in.

Real loss code is partial: mean-only, no ``ignore_index``, no ``eps``, no ``log_target``.  The
gate checks such a plug-in on everything it *can* take, never skipping a test at the first draw
that needs a parameter it lacks, and never exercising a lacking parameter through the back door:

- every keyword parameter of the contract the plug-in does not accept is held at the contract's
  default (the reference's signature): a case drawn with another value is *refitted* -- the
  parameter dropped, and the data that depended on it rewritten where the loss says how
  (``LossSpec.without``: cross-entropy's ignored targets become class 0, a KL log-space target
  becomes a probability) -- so the agreement, gradient and invariant tests keep all their examples;
- a lacking ``reduction`` leaves one reduction, the contract's default: the test matrix is built
  from :func:`fitted`'s ``reductions``, so no 'none'/'sum' test exists to be skipped;
- where a case cannot be refitted without changing what is checked (an edge-case row whose fixed
  expectation depends on the parameter: "all targets ignored -> NaN", "empty sum -> 0"),
  :meth:`FittedSpec.fit` with ``strict=True`` returns None and the test rejects that example
  (``hypothesis.reject``), not the test; a test none of whose examples fit ends as *not applicable*,
  counted apart from the checks that ran.

Built-ins, adapters and the reference are not refitted: they accept the whole contract (an
adapter says where it holds with ``variants``/``admits``/``dtypes``).

A plug-in's declared conventions and API limits (``properties.conventions``, ``Subject.declared``)
enter here too: the fitted spec's reference (``reference``/``reference_kwargs``, per dtype with
:meth:`FittedSpec.in_dtype`) and bound format (:meth:`FittedSpec.fmt`) are the declared ones, a
``fixed:PARAM=VALUE`` is a lacking parameter whose default is VALUE, a ``tied:A=B`` one held at
B's value, and a case outside a declared limit is rejected per example like one that cannot be
fitted (:meth:`FittedSpec.refuses`).
"""

from __future__ import annotations

import dataclasses
import inspect

from .cases import Case
from .formats import FORMATS
from .spec import LossSpec

#: what a skip for an example that could not be fitted says (the pytest plugin counts these apart)
NOT_APPLICABLE = "not applicable to this plug-in"


def contract_defaults(spec: LossSpec) -> dict:
    """The contract's default of each keyword parameter: the reference's signature, without the
    reference-only switches (``reference_kwargs``, e.g. BCE's ``clamp_log``; every switch is
    keyword-only, e.g. BCE's ``clip``)."""
    return {p.name: p.default for p in inspect.signature(spec.reference).parameters.values()
            if p.default is not inspect.Parameter.empty and p.name not in spec.reference_kwargs
            and p.kind is not inspect.Parameter.KEYWORD_ONLY}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    numbers = (int, float)
    try:
        if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
            return float(a) == float(b)  # p=2.0 drawn is the contract's p=2
        return bool(type(a) is type(b) and a == b)
    except Exception:  # arrays: never "the default"
        return False


@dataclasses.dataclass(frozen=True)
class FittedSpec(LossSpec):
    """A :class:`LossSpec` as one plug-in is checked on it (see the module docstring).

    lacking:  the contract's keyword parameters the plug-in does not accept (sorted);
    defaults: the contract's default of each of them (a declared ``fixed:`` value instead);
    declared: the plug-in's declared conventions and limits (``properties.conventions``);
    contract: the contract's own default of each lacking parameter;
    tied:     ``{held: source}``: lacking parameters held at another's value (``tied:A=B``)."""

    lacking: tuple[str, ...] = ()
    defaults: dict = dataclasses.field(default_factory=dict)
    base: LossSpec | None = None
    declared: tuple = ()
    contract: dict = dataclasses.field(default_factory=dict)
    tied: dict = dataclasses.field(default_factory=dict)
    _in_dtype: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def fit(self, case: Case, strict: bool = False) -> Case | None:
        """``case`` with every lacking parameter at the contract's default (written out, so every
        consumer sees the value; the call leaves it out), or None where that is impossible: a
        ``reduction`` the plug-in cannot be asked for; with ``strict``, any change of a value or of
        the data (the case's expectation may depend on them)."""
        for name in self.lacking:
            if name in self.tied:
                case = self._tie(case, name, strict)
                if case is None:
                    return None
                continue
            own = not _same(self.defaults[name], self.contract.get(name, self.defaults[name]))  # fixed:
            if name not in case.kwargs and name not in self.without and not own:
                continue  # a fixed: value is written out: the reference's default is the contract's
            default = self.defaults[name]
            at_default = name not in case.kwargs or _same(case.kwargs[name], default)
            if not at_default and (strict or name == "reduction" or name in self.sized_by):
                return None  # (sized_by: the case's magnitudes were drawn for that value, e.g. triplet's p)
            neutral = self.without.get(name)
            if neutral is not None:
                refit = neutral(case, default)
                if strict and _changed(case, refit):
                    return None
                case = refit
            if default is None:  # "no weight": left out, as a caller of the plug-in leaves it out
                case = Case(case.args, {k: v for k, v in case.kwargs.items() if k != name}, case.layouts)
            elif name in case.kwargs or name != "reduction":
                case = case.with_kwargs(**{name: default})
        if strict and self.refuses(case):
            return None
        return case

    def _tie(self, case: Case, name: str, strict: bool) -> Case | None:
        """``case`` with the tied parameter ``name`` at its source's value (None with ``strict``
        where it differs: the case's expectation may depend on it)."""
        source = self.tied[name]
        want = case.kwargs.get(source, self.defaults.get(source, contract_defaults(self.base).get(source)))
        have = case.kwargs.get(name, self.contract.get(name))
        if strict and not _same(have, want):
            return None
        return case.with_kwargs(**{name: want})

    def refuses(self, case: Case) -> str | None:
        """Why ``case`` lies outside an API limit the plug-in declares, or None."""
        from .conventions import refusal

        return refusal(self.declared, case)

    def fmt(self, dtype: str):
        """The format of the arithmetic the plug-in does on ``dtype`` inputs (a declared
        ``compute_dtype`` less precise than ``dtype``): what the tolerance bound uses."""
        from .conventions import arithmetic

        return arithmetic(self.declared, super().fmt(dtype))

    def in_dtype(self, dtype: str) -> "FittedSpec":
        """This spec with the reference switches of the arithmetic on ``dtype`` inputs (BCE's
        declared clip bounds as the dtype it computes in holds them)."""
        if dtype not in self._in_dtype:
            from .conventions import computing, reference_kwargs

            kwargs = reference_kwargs(self.base, self.declared, computing(self.declared, dtype))
            self._in_dtype[dtype] = self if kwargs == self.reference_kwargs else \
                dataclasses.replace(self, reference_kwargs=kwargs, _in_dtype={})
        return self._in_dtype[dtype]

    def __hash__(self):
        return id(self)


def _changed(a: Case, b: Case) -> bool:
    import numpy as np

    return any(not np.array_equal(a.args[k], b.args[k], equal_nan=True) for k in a.args)


def fitted(spec: LossSpec, subject) -> LossSpec:
    """``spec`` as ``subject`` is checked on it: itself for a subject that accepts every keyword
    parameter (built-ins, adapters, the reference, a ``**kwargs`` plug-in); else a
    :class:`FittedSpec` whose strategies draw only cases the plug-in can take (cached per subject)."""
    if getattr(subject, "origin", None) != "plugin":
        return spec
    cache = subject._state.setdefault("fitted", {})
    if spec.name in cache:
        return cache[spec.name]
    from . import conventions

    declared = tuple(d for d in getattr(subject, "declared", ()) if d.spec.name == spec.name)
    contract = contract_defaults(spec)
    defaults = {**contract, **conventions.fixed_defaults(declared)}
    tied = conventions.ties(declared)
    lacking = tuple(sorted({*subject.lacking(contract), *conventions.fixed_defaults(declared), *tied}))
    if not lacking and not declared:
        cache[spec.name] = spec
        return spec
    out: FittedSpec  # built below; the strategies close over it

    def cases(variant, fmt, reduction=None):
        # a declared compute dtype narrower than fmt: drawn for its range, rounded to it
        narrow = conventions.arithmetic(declared, fmt)
        # a case that cannot be fitted is drawn as is: admitted() (or the invariant's evaluator) rejects it, with the reason
        drawn = spec.cases(variant, narrow, reduction).map(lambda c: out.fit(c) or c)
        return drawn if narrow is fmt else drawn.map(lambda c: c.rounded(narrow.name))

    cases.draws_layouts = True  # spec.cases draws them (properties.layouts.laid_out)

    reductions = spec.reductions if "reduction" not in lacking else (defaults["reduction"],)
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(LossSpec)}
    out = FittedSpec(**{**fields, "cases": cases, "reductions": reductions,
                        "reference": conventions.reference(spec, declared),
                        "reference_kwargs": conventions.reference_kwargs(spec, declared)},
                     lacking=lacking, defaults={k: defaults[k] for k in lacking}, base=spec, declared=declared,
                     contract={k: contract[k] for k in lacking}, tied=tied)
    cache[spec.name] = out
    return out


def admitted(spec: LossSpec, subject, case: Case, *, dtype: str | None = None, variant: str | None = None,
             strict: bool = False) -> Case:
    """``case`` as ``subject`` is checked on it (``spec`` from :func:`fitted`).

    What the subject is not checked on at all -- a dtype or variant an adapter excludes -- skips
    the test (``pytest.skip`` with the reason); a case it cannot take -- one that cannot be fitted
    (``strict``: without changing the expectation), or outside an adapter's ``admits`` -- rejects
    this example only (:func:`properties.tally.reject`), and the test goes on drawing."""
    import pytest

    from . import tally

    if why := subject.unsupported(dtype=dtype, variant=variant):
        pytest.skip(why)
    fitted_case = spec.fit(case, strict)
    if fitted_case is None:
        tally.reject(_refuses(spec, case) or f"{NOT_APPLICABLE}: needs {_needs(spec, case)}")
    if why := _refuses(spec, fitted_case):  # outside a declared API limit
        _outside_limit(why)
    if why := subject.unsupported(case=fitted_case):
        tally.reject(why)
    if dtype is not None and isinstance(spec, FittedSpec) and spec.declared:
        from .conventions import in_arithmetic

        fitted_case = in_arithmetic(spec.declared, fitted_case, FORMATS[dtype], strict)
        if isinstance(fitted_case, str):  # declared compute dtype: not exact in it
            tally.reject(fitted_case)
    if dtype is not None and fitted_case is not case:
        outside(spec, fitted_case, dtype)
    return fitted_case


def _refuses(spec: LossSpec, case: Case) -> str | None:
    return spec.refuses(case) if isinstance(spec, FittedSpec) else None


def _outside_limit(why: str):
    """Reject the example: outside a declared API limit (a whole variant outside it ends as not
    applicable after ``tally.GIVE_UP`` rejections, see :func:`properties.tally.reject`)."""
    from . import tally

    tally.reject(why)


def outside(spec: LossSpec, case: Case, dtype: str) -> None:
    """Reject (with the reason) a fitted case that left the domain comparable in ``dtype``: a
    contract default the dtype cannot hold (Dice's smoothing 1e-5 is subnormal in float16)."""
    from . import tally

    if why := _refuses(spec, case):  # outside a declared API limit
        _outside_limit(why)
    if isinstance(spec, FittedSpec) and not spec.admits(case.rounded(dtype), spec.fmt(dtype)):
        held = ", ".join(f"{k}={spec.tied[k]}" if k in spec.tied else f"{k}={spec.defaults[k]!r}"
                         for k in spec.lacking if k in case.kwargs)
        tally.reject(f"{NOT_APPLICABLE}: with {held or 'its lacking parameters'} (as the plug-in holds them), "
                     f"no case is comparable in {dtype}")


def _needs(spec: LossSpec, case: Case) -> str:
    """The parameters (with values) of ``case`` that a fitted spec could not hold at their default."""
    lacking = getattr(spec, "lacking", ())
    named = [f"{k}={v!r}" if not hasattr(v, "shape") else k for k, v in case.kwargs.items() if k in lacking]
    return ", ".join(named) or f"data that depend on {', '.join(lacking)}"


def not_applicable(spec: LossSpec, subject, case: Case) -> str | None:
    """Why the fixed ``case`` of a table row cannot check ``subject`` (its expectation depends on a
    parameter value the plug-in lacks, or it lies outside an adapter's domain), or None."""
    fspec = fitted(spec, subject)
    if why := _refuses(fspec, case):
        return why
    from .conventions import changes_expectation

    if changes_expectation(fspec, case):  # the row's expectation is the contract's, not the declared one
        return (f"{NOT_APPLICABLE}: the row's expectation is the contract's, and under the declared "
                f"{', '.join(map(str, fspec.declared))} the reference's value of its case differs")
    if fspec.fit(case, strict=True) is None:
        return f"{NOT_APPLICABLE}: the row needs {_needs(fspec, case)}"
    return subject.unsupported(case=case)


def failure_gist(text: str, subject) -> str:
    """A failure message without its reproduction and with the subject's name neutral: two
    implementations that fail a check *the same way* have the same gist."""
    return text.split("\nReproduce:", 1)[0].replace(subject.qualname, "<subject>")


def discarding_recorded(subject, check: str, case: Case, dtype: str, failure, run, rerun=None,
                        device: str | None = None) -> None:
    """``run()``; a ``failure`` inside a region where ``subject`` has a recorded known deviation for
    ``check`` (``Subject.case_deviations``; its check function demonstrates it on the installed version)
    discards the example (``hypothesis.reject``) -- not the end of the test, whose other examples keep
    checking.  ``case``: as drawn; the region is judged, only on a failure, on it rounded to ``dtype``
    (the values the implementation saw); ``device``: where it ran (a record may hold on some devices only).

    A plug-in may show its loss's built-in's recorded deviations (one built on ``F.cross_entropy`` shows
    torch's), not must: inside such a region its failure is discarded only where the built-in fails the
    same example the same way (``rerun(builtin)``: the same gist -- the same values, the same kind of
    failure); any other failure there is the plug-in's own, reported with what the built-in does."""
    from hypothesis import event, reject

    try:
        run()
    except failure as exc:
        rounded = case.rounded(dtype)
        deviation = subject.case_deviation(check, rounded, dtype, device)
        if deviation is None and subject.allows_known_deviations and rerun is not None:
            deviation = _shown_by_builtin(subject, check, rounded, dtype, device, exc, failure, rerun)
        if deviation is None:
            raise
        event(f"discarded: recorded known deviation {deviation.deviation!r}")
        reject()


def _shown_by_builtin(subject, check: str, case: Case, dtype: str, device, exc, failure, rerun):
    """The built-in's recorded deviation that covers ``case`` when the built-in fails it the way
    ``subject`` did (``exc``); None where none is recorded; a ``failure`` saying why not otherwise."""
    from .specs import SPECS
    from .subjects import builtin_subjects

    builtin = next(iter(builtin_subjects(SPECS[subject.loss])), None)
    deviation = builtin.case_deviation(check, case, dtype, device) if builtin is not None else None
    if deviation is None:
        return None
    shown_as_recorded(exc, subject, builtin, deviation.deviation, failure, rerun)
    return deviation


def shown_as_recorded(exc, subject, recorded, deviation: str, failure, run) -> None:
    """Return when ``run(recorded)`` -- the implementation ``deviation`` is recorded for -- fails the way
    ``subject`` did (``exc``: the same gist); otherwise raise ``failure``: the subject's own, saying what the
    recorded implementation does instead."""
    try:
        if recorded is not None:
            run(recorded)
    except failure as ref:
        if failure_gist(str(exc), subject) == failure_gist(str(ref), recorded):
            return
        raise failure(f"{exc}\n\nNot the recorded known deviation {deviation!r}: {recorded.qualname} "
                      f"fails this check differently:\n{failure_gist(str(ref), recorded)}") from exc
    raise failure(f"{exc}\n\nNot the recorded known deviation {deviation!r}: "
                  f"{getattr(recorded, 'qualname', 'the recorded implementation')} does not fail this case") from exc
