"""Adapter-specific checks of the Keras 3 and fvcore adapters (``properties/adapters/keras.py``,
``fvcore.py``).

Each domain an adapter's ``admits`` leaves out must be one where the library really leaves the
tolerance model (a case there fails the agreement check: the exclusion hides nothing that would
pass), and the domain it keeps must meet the model at its edge.  The recorded deviations behind
the exclusions are checked by tests/test_known_deviations.py; the Keras subjects must vanish
when Keras runs on another backend.  Skipped when the library is absent (the thirdparty extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from properties.agreement import AgreementError, check_agreement
from properties.cases import Case
from properties.specs import SPECS
from properties.subjects import subjects_for


def _subject(loss: str, name: str):
    found = [s for s in subjects_for(SPECS[loss]) if s.name == name]
    if not found:
        pytest.skip(f"no {name} subject for {loss} (library not installed: the thirdparty extra)")
    return found[0]


def _agrees(loss: str, subject, case: Case, dtype: str = "float32", reduction: str = "none") -> float:
    return check_agreement(SPECS[loss], subject, case, dtype, "cpu", reduction, record=False)


def _focal(x: float, t: float, alpha: float, gamma: float) -> Case:
    return Case({"inputs": np.array([x]), "targets": np.array([t])}, {"alpha": alpha, "gamma": gamma})


# ---- Keras: BinaryFocalCrossentropy(from_logits=True) is compared where |x| <= 1 ----------------


@pytest.mark.parametrize("x, t", [(1.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (-1.0, 0.0)])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_keras_focal_meets_the_model_at_the_edge_of_its_domain(x, t, gamma):
    """|x| = 1: sigmoid's rounding amplified by e^1 = 2.7 stays within the model's ~6u per term."""
    subject = _subject("focal", "keras")
    case = _focal(x, t, -1.0, gamma)
    assert subject.unsupported(case=case) is None
    assert _agrees("focal", subject, case) <= 1.0


@pytest.mark.parametrize("x, t, gamma", [(6.0, 1.0, 0.0), (6.0, 0.0, 0.0), (6.0, 0.0, 2.0)])
def test_keras_focal_outside_its_domain_leaves_the_model(x, t, gamma):
    """x = 6: relative error ~u e^6 = 400u (known deviation keras_focal_from_logits_through_clipped_sigmoid)."""
    subject = _subject("focal", "keras")
    case = _focal(x, t, -1.0, gamma)
    assert subject.unsupported(case=case) is not None
    with pytest.raises(AgreementError, match="outside the bound"):
        _agrees("focal", subject, case)


# ---- Keras: index targets all ignored are not compared (mean 0, not NaN) --------------------------


def test_keras_all_ignored_targets_are_outside_the_domain_and_differ():
    subject = _subject("cross_entropy", "keras")
    case = Case({"input": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), "target": np.array([-100, -100])})
    assert subject.unsupported(case=case) is not None
    with pytest.raises(AgreementError, match="where the reference is NaN"):
        _agrees("cross_entropy", subject, case, reduction="mean")
    # one target not ignored: compared, and the mean over it agrees
    kept = Case({**case.args, "target": np.array([2, -100])}, case.kwargs)
    assert subject.unsupported(case=kept) is None
    assert _agrees("cross_entropy", subject, kept, reduction="mean") <= 1.0


# ---- Keras: the subjects exist on the torch backend only ----------------------------------------


def test_keras_subjects_need_the_torch_backend(monkeypatch):
    pytest.importorskip("keras")
    import keras

    from properties.adapters import keras as adapter

    assert set(adapter.subjects(keras.__version__)) == {"mse", "huber", "bce_with_logits", "focal", "cross_entropy"}
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert adapter.subjects(keras.__version__) == {}


# ---- fvcore: sigmoid_focal_loss with a saturated hard target (1 - p_t rounds to 0) ---------------


@pytest.mark.parametrize("x, t, gamma", [(31.625, 1.0, 5.5e-250), (31.625, 1.0, 1e-9), (20.0, 1.0, 0.05),
                                         (31.625, 1.0, 0.125), (31.625, 1.0, 2.0), (31.625, 0.0, 0.01),
                                         (10.0, 1.0, 0.01)])
def test_fvcore_focal_is_compared_on_saturated_logits(x, t, gamma):
    """A saturated logit with a tiny gamma (float32's 1 - p_t is 0 and the loss 0: 0 for 1.9e-10 at
    x = 20, gamma = 0.05 -- the formula's arithmetic, which the focal budget counts), gamma >= 1/8,
    a misclassified saturated logit (1 - p_t = 1), an unsaturated one: admitted, within the model."""
    subject = _subject("focal", "fvcore")
    case = _focal(x, t, 0.25, gamma)
    assert subject.unsupported(case=case) is None
    assert _agrees("focal", subject, case) <= 1.0


# ---- fvcore: smooth_l1_loss is not compared for 0 < beta < 1e-5 only ------------------------------


def _smooth_l1(beta: float) -> Case:
    return Case({"input": np.array([1e-7, 2.0]), "target": np.zeros(2)}, {"beta": beta})


def test_fvcore_smooth_l1_small_beta_is_outside_the_domain_and_differs():
    """beta = 1e-6: fvcore computes L1 (1e-7 where smooth L1 is 5e-9; fvcore_smooth_l1_small_beta_is_l1)."""
    subject = _subject("smooth_l1", "fvcore")
    case = _smooth_l1(1e-6)
    assert subject.unsupported(case=case) is not None
    with pytest.raises(AgreementError, match="outside the bound"):
        _agrees("smooth_l1", subject, case, dtype="float64")


@pytest.mark.parametrize("beta", [0.0, 1e-5, 1.0])
def test_fvcore_smooth_l1_is_compared_at_other_betas(beta):
    subject = _subject("smooth_l1", "fvcore")
    case = _smooth_l1(beta)
    assert subject.unsupported(case=case) is None
    assert _agrees("smooth_l1", subject, case, dtype="float64") <= 1.0


def test_fvcore_smooth_l1_negative_beta_stays_in_the_domain():
    """A negative beta is a bad input, not a convention: the bad-input table must see fvcore accept it
    (fvcore_negative_parameters_accepted), so admits must not exclude it."""
    subject = _subject("smooth_l1", "fvcore")
    assert subject.unsupported(case=_smooth_l1(-0.5)) is None
