"""Every recorded known deviation is complete, still holds on the installed version, and is
linked both ways with the edge-case / bad-input rows that show it."""

from __future__ import annotations

import pytest
from hypothesis import assume, event, given, settings, strategies as st

from properties import deviations
from properties.bad_inputs import BAD_INPUTS
from properties.edge_cases import EDGE_CASES
from properties.gradients import FINITE_GRADIENT_ROWS

DEVIATIONS = deviations.load()
ROWS = {f"edge:{r.id}": r for rows in EDGE_CASES.values() for r in rows}
ROWS.update({f"bad:{r.id}": r for rows in BAD_INPUTS.values() for r in rows})
ROWS.update({f"grad:{r.id}": r for r in FINITE_GRADIENT_ROWS})


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_deviation_record_is_complete(name):
    record = DEVIATIONS[name]
    missing = [f for f in deviations.REQUIRED_FIELDS if not str(record.get(f, "")).strip()]
    assert not missing, f"known deviation {name!r} lacks {missing}"
    assert record.get("check") or record.get("rows"), f"{name}: neither a check function nor rows demonstrate it"
    if record.get("check"):
        assert record["check"] in deviations.CHECKS, f"{name}: no check function {record['check']!r}"
    for row_id in record.get("rows", []):
        assert row_id in ROWS, f"{name}: no row {row_id!r}"
        assert any(k.deviation == name for k in ROWS[row_id].known_failures), (
            f"{name}: row {row_id} does not name this deviation in its known_failures")


@pytest.mark.parametrize("name", sorted(n for n, r in DEVIATIONS.items() if r.get("check")))
def test_deviation_still_holds(name):
    import importlib.util

    record = DEVIATIONS[name]
    libraries = {q.strip().partition(".")[0] for q in record["subject"].split(",")}
    absent = sorted(lib for lib in libraries if importlib.util.find_spec(lib) is None)
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed (the thirdparty extra): {record['subject']} not checked")
    assert deviations.CHECKS[record["check"]](), (
        f"known deviation {name!r} no longer holds on this version ({record['subject']}: {record['behaviour']}). "
        "Upstream changed: update properties/known_deviations.toml and the strategies that avoid it."
    )


def test_every_known_failure_names_a_recorded_deviation():
    for row_id, row in ROWS.items():
        for known in row.known_failures:
            assert known.deviation in DEVIATIONS, f"{row_id} names unrecorded deviation {known.deviation!r}"
            assert row_id in DEVIATIONS[known.deviation].get("rows", []), (
                f"{row_id} is not listed in the rows of {known.deviation!r}")


def test_case_deviations_name_checked_records():
    """A subject's region-wide known deviation (``Subject.case_deviations``: MONAI's cancellations)
    names a record of that subject which a check function demonstrates on the installed version."""
    from properties.specs import SPECS
    from properties.subjects import subjects_for

    for spec in SPECS.values():
        for subject in subjects_for(spec):
            for dev in subject.case_deviations:
                record = DEVIATIONS.get(dev.deviation)
                assert record is not None, f"{subject.qualname}: unrecorded deviation {dev.deviation!r}"
                assert subject.qualname in record["subject"], f"{dev.deviation}: recorded for {record['subject']}"
                assert record.get("check"), f"{dev.deviation}: no check function demonstrates it"


# ---- nll_loss's cascade (cross_entropy's region-wide record) -------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(period=st.sampled_from([2, 3, 4, 5, 8, 16, 32, 48]), phase=st.integers(0, 47),
       extra=st.lists(st.integers(0, 4095), max_size=6), reduction=st.sampled_from(["mean", "sum"]))
def test_nll_cascade_region_is_where_torch_leaves_its_cascade(period, phase, extra, reduction):
    """Outside the region the cross-entropy spec declares (``nll_cascade_skips_a_flush``), torch's reduced
    cross-entropy of n = 4096 equal terms (log 5) is within the cascade's ceil(log2 n) = 12 roundings --
    the tolerance model's assumption; the records of the region are a region, not a pass for any error."""
    from fractions import Fraction

    import numpy as np
    import torch
    import torch.nn.functional as F

    from properties.cases import Case
    from properties.specs.cross_entropy import nll_cascade_skips_a_flush

    n = 4096
    ignored = (np.arange(n) % period) == (phase % period)
    ignored[extra] = True
    assume(not ignored.all())
    target = np.where(ignored, -100, np.arange(n) % 5)
    x = np.full((n, 5), 1e-3)
    case = Case({"input": x, "target": target}, {"reduction": reduction})
    got = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(target), reduction=reduction)
    term = Fraction(float(-torch.log_softmax(torch.from_numpy(x[0]), 0)[0]))
    exact = term if reduction == "mean" else term * int((~ignored).sum())
    ulps = float(abs(Fraction(float(got)) - exact) / exact) / 2.0 ** -53
    if not nll_cascade_skips_a_flush(case):
        assert ulps <= 12, f"{ulps:.1f} u outside the recorded region"
    event("in the region" if nll_cascade_skips_a_flush(case) else "outside the region")


class _Failure(Exception):
    pass


def _plugin(fn=None):
    from properties.subjects import Subject

    return Subject("cross_entropy", "impl", "team.losses.cross_entropy", fn, origin="plugin")


def _region_case():
    import numpy as np

    from properties.cases import Case

    target = np.where(np.arange(64) % 16 == 0, -100, 1)
    return Case({"input": np.zeros((64, 3)), "target": target}, {"reduction": "sum"})


def _raise(message):
    def run(*subject):
        raise _Failure(f"returned 1.5 where 1.25 is expected{message}\nReproduce: ...")
    return run


@settings(max_examples=1, database=None)
@given(st.none())
def test_plugin_is_excused_in_a_builtin_region_only_where_the_builtin_fails_the_same_way(_):
    """A plug-in inherits its loss's built-in's region-wide records (one built on ``F.cross_entropy``
    shows torch's cascade), but a failure there is discarded only where the built-in fails the same
    example with the same gist; a failure of its own in the region, or outside it, is reported."""
    from hypothesis.errors import UnsatisfiedAssumption

    from properties.fit import discarding_recorded

    subject, case = _plugin(), _region_case()
    with pytest.raises(UnsatisfiedAssumption):  # torch fails the same way: discarded
        discarding_recorded(subject, "agreement", case, "float64", _Failure, _raise(""), rerun=_raise(""))
    with pytest.raises(_Failure, match="fails this check differently"):
        discarding_recorded(subject, "agreement", case, "float64", _Failure, _raise(""), rerun=_raise(" (by 2 u)"))
    with pytest.raises(_Failure, match="does not fail this case"):
        discarding_recorded(subject, "agreement", case, "float64", _Failure, _raise(""), rerun=lambda s: None)
    outside = case.with_kwargs(reduction="none")
    with pytest.raises(_Failure, match="^returned"):
        discarding_recorded(subject, "agreement", outside, "float64", _Failure, _raise(""), rerun=_raise(""))
    with pytest.raises(_Failure, match="^returned"):  # a check without a rerun: nothing inherited
        discarding_recorded(subject, "agreement", case, "float64", _Failure, _raise(""))
    with pytest.raises(_Failure, match="^returned"):  # the cascade is the CPU kernel's: not recorded on CUDA
        discarding_recorded(subject, "agreement", case, "float64", _Failure, _raise(""), rerun=_raise(""),
                            device="cuda")
    from properties.specs import SPECS
    from properties.subjects import builtin_subjects

    (torch_subject,) = builtin_subjects(SPECS["cross_entropy"])
    with pytest.raises(UnsatisfiedAssumption):
        discarding_recorded(torch_subject, "agreement", case, "float64", _Failure, _raise(""), device="cpu")
    with pytest.raises(_Failure):
        discarding_recorded(torch_subject, "agreement", case, "float64", _Failure, _raise(""), device="cuda:0")
