"""The audit's article-claims section (properties/audit/claims.py): the records' shape, each
claim's evidence re-checked independently here, and the focal checker shown able to accept a
loss that IS a rescaled pos_weight BCE (so its "no pos_weight reproduces focal" can fail)."""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import refimpl
from properties.audit import claims as claims_module
from properties.audit.claims import article_claims

KEYS = {"id", "loss", "article", "verdict", "holds", "finding", "evidence"}
VERDICTS = {"identity", "counterexample", "absent", "differs", "confirmed"}
LOSSES = {"mse", "cross_entropy", "bce", "kl_div", "hinge_embedding", "huber", "triplet_margin", "contrastive",
          "focal", "dice"}
REQUIRED = {"focal_is_not_bce_pos_weight", "huber_is_delta_times_smooth_l1", "contrastive_is_not_cosine_embedding",
            "hinge_embedding_is_not_classic_hinge", "torch_has_no_dice_loss"}

CLAIMS = article_claims()
BY_ID = {c["id"]: c for c in CLAIMS}


def t64(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def evidence_of(claim_id: str) -> dict:
    assert claim_id in BY_ID, f"no claim {claim_id!r}"
    return BY_ID[claim_id]["evidence"]


def _plain(value) -> bool:
    """str, bool, int, finite float, or a (nested) list of those."""
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, bool, int))


# --- (a) record shape ------------------------------------------------------------------------


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_record_shape(claim):
    assert set(claim) == KEYS
    assert isinstance(claim["id"], str) and claim["id"]
    assert claim["loss"] in LOSSES
    assert claim["verdict"] in VERDICTS
    assert type(claim["holds"]) is bool
    assert claim["holds"] == (claim["verdict"] == "confirmed")
    assert isinstance(claim["article"], str) and claim["article"].strip()
    assert isinstance(claim["finding"], str) and claim["finding"].strip()
    assert isinstance(claim["evidence"], dict) and claim["evidence"]
    bad = {k: v for k, v in claim["evidence"].items() if not (isinstance(k, str) and _plain(v))}
    assert not bad, f"evidence values not plain JSON: {bad}"


def test_ids_unique_required_present_and_strict_json():
    ids = [c["id"] for c in CLAIMS]
    assert len(ids) == len(set(ids))
    assert REQUIRED <= set(ids)
    json.dumps(CLAIMS, allow_nan=False)


def test_claims_are_deterministic():
    assert json.dumps(article_claims(), sort_keys=True) == json.dumps(CLAIMS, sort_keys=True)


def test_the_article_quotes_are_in_the_article_text():
    """Each claim's `article` is the article's code line (where the shared copy of the article is present)."""
    from pathlib import Path

    path = Path("/work/shared/source-article.txt")
    if not path.exists():
        pytest.skip("source article not available")
    text = path.read_text(encoding="utf-8")
    missing = [c["id"] for c in CLAIMS if c["article"] not in text]
    assert not missing


# --- (b) each claim's evidence, re-checked here -------------------------------------------------


def test_focal_counterexample():
    ev = evidence_of("focal_is_not_bce_pos_weight")
    x, t = np.array(ev["logits"]), np.array(ev["targets"])
    focal = refimpl.focal(x, t, alpha=ev["alpha"], gamma=ev["gamma"], reduction="none")
    np.testing.assert_allclose(focal, ev["focal"], rtol=1e-12)
    negatives = np.flatnonzero(t == 0)
    assert len(negatives) >= 2
    i, j = negatives[:2]
    bce_by_weight = {}
    for w in ev["pos_weights"]:
        bce = F.binary_cross_entropy_with_logits(t64(x), t64(t), pos_weight=t64(w), reduction="none").numpy()
        np.testing.assert_allclose(bce, ev[f"bce_pos_weight_{w:g}"], rtol=1e-12)
        bce_by_weight[w] = bce
        # same target, different focal/BCE ratio: no pos_weight (nor any rescaling) maps one onto the other
        ratio = focal / bce
        assert ratio[i] / ratio[j] < 1e-2 or ratio[j] / ratio[i] < 1e-2
    # pos_weight cannot touch a negative's term at all
    for bce in bce_by_weight.values():
        np.testing.assert_array_equal(bce[negatives], bce_by_weight[1.0][negatives])
    assert ev["pos_weight_reproduces_focal"] is False
    assert ev["ratio_spread_negatives"] > 100
    # gamma = 0: the alpha-balanced BCE, which IS (1 - alpha) * BCE(pos_weight = alpha / (1 - alpha))
    alpha = ev["alpha"]
    assert ev["gamma0_reproduced_by_pos_weight"] is True
    assert ev["gamma0_pos_weight"] == pytest.approx(alpha / (1 - alpha), rel=1e-12)
    assert ev["gamma0_scale"] == pytest.approx(1 - alpha, rel=1e-12)


def test_huber_identity():
    ev = evidence_of("huber_is_delta_times_smooth_l1")
    assert ev["identity_max_rel_diff"] < 1e-14
    assert ev["delta2_max_abs_diff"] > 0.1
    assert ev["delta1_max_abs_diff"] == 0.0
    assert set(ev["deltas"]) >= {0.1, 0.5, 1.0, 2.0, 10.0} and ev["pairs"] >= 1000
    # independently, with the NumPy references, on other inputs
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal(200) * 5, rng.standard_normal(200) * 5
    for d in ev["deltas"]:
        np.testing.assert_allclose(refimpl.huber(x, y, reduction="none", delta=d),
                                   d * refimpl.smooth_l1(x, y, reduction="none", beta=d), rtol=1e-14, atol=0)
    z = ev["example_abs_error"]
    assert F.huber_loss(t64([z]), t64([0.0]), delta=2.0).item() == ev["example_huber_delta2"]
    assert F.smooth_l1_loss(t64([z]), t64([0.0]), beta=2.0).item() == ev["example_smooth_l1_beta2"]
    assert ev["example_huber_delta2"] == 2.0 * ev["example_smooth_l1_beta2"] != ev["example_smooth_l1_beta2"]


def test_contrastive_differs():
    ev = evidence_of("contrastive_is_not_cosine_embedding")
    a, b = np.array(ev["input1"]).reshape(1, -1), np.array(ev["input2"]).reshape(1, -1)
    y, s = np.array(ev["target"]), ev["scale"]
    assert np.all(y == 1)
    cos = F.cosine_embedding_loss(t64(a), t64(b), t64(y)).item()
    assert cos == ev["cosine_embedding"] and abs(cos) < 1e-12
    assert F.cosine_embedding_loss(t64(s * a), t64(s * b), t64(y)).item() == ev["cosine_embedding_scaled"]
    assert abs(ev["cosine_embedding_scaled"]) < 1e-12
    half_sq = 0.5 * float(np.sum((a - b) ** 2))
    assert ev["contrastive"] == pytest.approx(half_sq, rel=1e-14) and half_sq > 1
    assert ev["contrastive_scaled"] == pytest.approx(s * s * half_sq, rel=1e-14)
    assert ev["contrastive_scaled_over_unscaled"] == pytest.approx(s * s, rel=1e-14)


def test_hinge_embedding_counterexample():
    ev = evidence_of("hinge_embedding_is_not_classic_hinge")
    x, y = np.array(ev["input"]), np.array(ev["target"])
    got = F.hinge_embedding_loss(t64(x), t64(y), reduction="none").numpy()
    np.testing.assert_array_equal(got, ev["hinge_embedding"])
    classic = np.maximum(0.0, 1.0 - y * x)
    np.testing.assert_array_equal(classic, ev["classic_hinge"])
    np.testing.assert_array_equal(classic, ev["multi_margin_times_2"])
    assert np.any(got != classic)
    assert min(ev["hinge_embedding"]) < 0  # a negative "loss"
    assert ev["multi_margin_identity_max_abs_diff"] == 0.0


def test_no_dice_loss_in_torch():
    ev = evidence_of("torch_has_no_dice_loss")
    assert not hasattr(torch.nn, "DiceLoss")
    assert ev["hasattr_torch_nn_DiceLoss"] is False
    assert ev["torch_version"] == torch.__version__
    assert ev["torch_nn_names_containing_dice"] == sorted(n for n in dir(torch.nn) if "dice" in n.lower())
    assert ev["torch_nn_functional_names_containing_dice"] == sorted(n for n in dir(F) if "dice" in n.lower())
    assert ev["torch_nn_dice_words"] == [] and ev["torch_nn_functional_dice_words"] == []
    finding = BY_ID["torch_has_no_dice_loss"]["finding"]
    assert "monai.losses.DiceLoss" in finding and "kornia.losses.dice_loss" in finding and "refimpl.dice" in finding


def test_kl_div_mean_is_batchmean_over_c():
    ev = evidence_of("kl_div_mean_is_not_batchmean")
    assert ev["batchmean_over_mean"] == pytest.approx(ev["c"], rel=1e-12)
    assert ev["kl_per_sample_averaged"] == pytest.approx(ev["batchmean"], rel=1e-12)
    assert ev["refimpl_batchmean"] == pytest.approx(ev["batchmean"], rel=1e-12)
    assert ev["mean"] * ev["c"] == pytest.approx(ev["batchmean"], rel=1e-12)


def test_cross_entropy_takes_logits():
    ev = evidence_of("cross_entropy_takes_logits")
    logits = np.array(ev["logits"]).reshape(ev["logits_shape"])
    labels = torch.tensor(ev["labels"])
    on_logits = F.cross_entropy(t64(logits), labels).item()
    on_probs = F.cross_entropy(torch.softmax(t64(logits), dim=1), labels).item()
    assert on_logits == pytest.approx(ev["cross_entropy_of_logits"], rel=1e-14)
    assert on_probs == pytest.approx(ev["cross_entropy_of_probabilities"], rel=1e-14)
    assert abs(on_logits - on_probs) > 1e-3
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    formula = -np.mean(np.log(p[np.arange(len(ev["labels"])), ev["labels"]]))
    assert formula == pytest.approx(on_logits, rel=1e-13)


@pytest.mark.parametrize("claim_id", ["mse_matches", "bce_matches", "triplet_matches"])
def test_confirmed_mappings(claim_id):
    assert BY_ID[claim_id]["holds"] is True
    assert evidence_of(claim_id)["max_rel_diff"] < 1e-14


def test_bce_clamp_and_triplet_eps():
    bce = evidence_of("bce_matches")
    assert F.binary_cross_entropy(t64([0.0]), t64([1.0])).item() == bce["bce_at_p0_t1"] == 100.0
    assert bce["formula_infinite_at_p0_t1"] is True
    # torch's distance adds eps = 1e-6: the plain formula is off by far more than rounding
    assert evidence_of("triplet_matches")["max_rel_diff_without_eps"] > 1e-10


# --- (c) the checks can fail --------------------------------------------------------------------


FOCAL_INPUTS = (np.array([-4.0, 0.0, 4.0, 0.0, 1.5]), np.array([0.0, 0.0, 1.0, 1.0, 0.0]))


def test_focal_checker_accepts_a_rescaled_pos_weight_bce():
    """A "focal loss" that IS 0.3 * BCEWithLogits(pos_weight=2.5): the checker must say so."""
    def fake_focal(x, t):
        return 0.3 * refimpl.bce_with_logits(x, t, pos_weight=2.5, reduction="none")

    result = claims_module._focal_vs_pos_weight(fake_focal, *FOCAL_INPUTS)
    assert result["reproduces"] is True
    assert result["pos_weight"] == pytest.approx(2.5, rel=1e-12)
    assert result["scale"] == pytest.approx(0.3, rel=1e-12)


def test_focal_checker_accepts_gamma0_and_rejects_gamma2():
    gamma0 = claims_module._focal_vs_pos_weight(claims_module._sigmoid_focal(0.25, 0.0), *FOCAL_INPUTS)
    assert gamma0["reproduces"] is True and gamma0["pos_weight"] == pytest.approx(1 / 3, rel=1e-12)
    gamma2 = claims_module._focal_vs_pos_weight(claims_module._sigmoid_focal(0.25, 2.0), *FOCAL_INPUTS)
    assert gamma2["reproduces"] is False and gamma2["pos_weight"] is None


def test_focal_checker_negatives_only():
    """With negatives only pos_weight is irrelevant: a rescaled BCE passes, focal does not."""
    x, t = np.array([-4.0, 0.0, 2.0]), np.zeros(3)
    ok = claims_module._focal_vs_pos_weight(lambda x, t: 2.0 * refimpl.bce_with_logits(x, t, reduction="none"), x, t)
    assert ok["reproduces"] is True and ok["scale"] == pytest.approx(2.0) and ok["pos_weight"] is None
    assert ok["negatives_shift"] == 0.0
    bad = claims_module._focal_vs_pos_weight(claims_module._sigmoid_focal(0.25, 2.0), x, t)
    assert bad["reproduces"] is False


def test_dice_name_filter_finds_a_dice_loss():
    fake = types.SimpleNamespace(DiceLoss=1, dice_loss=2, soft_dice=3, max_pool1d_with_indices=4, Linear=5)
    names, words = claims_module._dice_names(fake)
    assert names == ["DiceLoss", "dice_loss", "max_pool1d_with_indices", "soft_dice"]
    assert words == ["DiceLoss", "dice_loss", "soft_dice"]


def test_max_rel_diff_sees_a_difference():
    assert claims_module._max_rel_diff([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert claims_module._max_rel_diff([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert claims_module._max_rel_diff([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 2.2)


def test_evidence_refuses_non_finite():
    with pytest.raises(ValueError):
        claims_module._f(float("nan"))
    with pytest.raises(ValueError):
        claims_module._floats([1.0, float("inf")])
