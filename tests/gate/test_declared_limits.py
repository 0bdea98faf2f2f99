"""Declared API limits hold: a plug-in that declares one (``properties.conventions``: targets=index,
targets=probability, batch=required, label_smoothing<1, tied:A=B) refuses, with an error, the
valid contract inputs just outside it.  The other checks reject such inputs for it (never
checked), so a plug-in that answers them with a value instead -- a wrong one, or any -- would
otherwise go unseen: that is the finding here ("accepts input outside its declared limit").

Ids read ``test_bad_input_outside_declared_limit[<loss>-<subject>-<limit>]`` (counted with the
bad inputs in the gate's coverage summary).  Only plug-ins declare limits: outside a gate run
there is nothing to check.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings, strategies as st

from properties import tally
from properties.agreement import ContractBreach
from properties.conventions import limits, outside_subject, refusal
from properties.diagnosis import headline, is_raise, run_subject, script, shown_output
from properties.fit import fitted
from properties.formats import FORMATS
from properties.specs import SPECS
from properties.subjects import subjects_for

#: the dtype of the calls (as the bad-input checks)
DTYPE = "float32"
EXAMPLES = max(3, settings().max_examples // 3)


def _params():
    for spec in SPECS.values():
        for subject in subjects_for(spec):
            for limit in limits(getattr(subject, "declared", ())):
                yield pytest.param(subject, limit, id=f"{spec.name}-{subject.name}-{limit.text}")


@pytest.mark.parametrize("subject, limit", list(_params()))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_bad_input_outside_declared_limit(subject, limit, data):
    spec = SPECS[subject.loss]
    fspec = fitted(spec, subject)
    variant = data.draw(st.sampled_from(limit.entry.outside_variants(spec, limit.value)), label="variant")
    case = fspec.fit(data.draw(fspec.cases(variant, FORMATS[DTYPE]), label="case"))
    outside = limit.outside(case)
    if outside is None or not limit.excludes(outside):
        tally.reject(f"no case outside {limit.text} made from this {variant} case")
    others = tuple(d for d in fspec.declared if d is not limit)
    if why := refusal(others, outside):  # outside another limit too: its own check
        tally.reject(why)
    outside = outside.rounded(DTYPE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.call_reference(outside)
    except ValueError as exc:  # not a valid contract input: a bad input, checked elsewhere
        tally.reject(f"outside the contract too: {exc}")
    caller = outside_subject(subject, limit)  # a tied parameter is passed here, not left out
    args, kwargs = outside.to_torch(DTYPE, "cpu")
    try:
        out = run_subject(caller, args, kwargs)
    except ContractBreach as exc:
        if is_raise(exc):
            return
        raise AssertionError(f"{headline(subject.qualname, str(exc), spec.name, DTYPE, 'cpu', limit.text)}\n"
                             f"case: {outside!r}") from exc.__cause__
    raise AssertionError(
        f"{headline(subject.qualname, f'accepts input outside its declared limit {limit.text} (returned without raising)', spec.name, DTYPE, 'cpu', limit.text)}\n"
        f"declared {limit.text} ({limit.entry.meaning}): this valid contract input lies outside it "
        f"({limit.excludes(outside)}), so the plug-in must refuse it with an error; it returned {out!r}\n"
        f"case: {outside!r}\nReproduce:\n"
        + script(caller, outside, DTYPE, "cpu", after=[*shown_output(DTYPE, "cpu", None),
                                                        'print("expected:  an exception")']))
