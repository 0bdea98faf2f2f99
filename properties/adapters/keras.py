"""Keras 3 adapters (``KERAS_BACKEND=torch``): ``keras.losses`` MeanSquaredError, Huber,
BinaryCrossentropy(from_logits=True), CategoricalCrossentropy(from_logits=True),
SparseCategoricalCrossentropy(from_logits=True) and BinaryFocalCrossentropy(from_logits=True);
no subject for BinaryCrossentropy on probabilities, KLDivergence or Dice (below, why).

Keras must run on the torch backend to take torch tensors: ``KERAS_BACKEND`` is set to "torch"
(``os.environ.setdefault``: a user's explicit choice wins, and then no Keras subject works)
before keras is first imported.  The backend is fixed at Keras's first import in a process.

Conventions every adapter translates:

- argument order: a Keras loss is called ``loss(y_true, y_pred, sample_weight)``; the contract
  is (input, target, ...): the adapters swap them.
- per-sample reduction: a Keras loss function reduces the last axis first (``mean(..., axis=-1)``
  for mse, huber, bce and focal; the class axis for cross-entropy) and the Loss object's
  ``reduction`` then acts on those per-sample values: 'none' keeps them, 'sum' sums them,
  'sum_over_batch_size' divides the sum by their number and 'mean_with_sample_weight' by the sum
  of the sample weights.  The elementwise losses (mse, huber, bce_with_logits, focal) are given
  ``x.reshape(-1, 1)``, one sample per element, the 'none' result reshaped back: the per-sample
  mean over the unit axis is the element itself, so 'none' is the contract's elementwise result,
  'sum' the plain sum and 'sum_over_batch_size' the mean over every element.  The flat (N,)
  per-sample loss also keeps a 0-d input away from Keras's shape-() case, which is returned
  unreduced, weight included (``mean_with_sample_weight`` of l = 1, w = 10 is 10; known deviation
  ``keras_scalar_loss_not_reduced``), and makes every empty batch the (0,) case below.  A reshape
  copies a non-contiguous input, so the layout edge cases exercise Keras on a contiguous copy;
  inputs whose shapes differ are passed unflattened (``x[..., None]``) for Keras to refuse or
  broadcast.  'mean' is 'mean_with_sample_weight' for
  mse (its weighted mean is sum(w l) / sum(w)) and 'sum_over_batch_size' for the others (huber's
  and BCE's weighted mean is mean(w l)).  Another reduction string is passed as it is (Keras
  refuses it).
- weight: the contract's elementwise weight is Keras's ``sample_weight`` over those per-element
  values (broadcast to the input's shape by the adapter, as torch broadcasts it: Keras would
  otherwise squeeze or expand a rank-1 weight against the last axis).
- dtype: a Keras loss computes in its own dtype (``Loss(dtype=...)``, default
  ``keras.backend.floatx()`` = float32), not the input's: the adapters pass the input's dtype, so
  float16 and bfloat16 are computed in the dtype asked.  float64 is not checked: on the torch
  backend ``ops.mean`` computes in ``result_type(x.dtype, 'float32')``, which Keras maps to float32
  for a float64 x (``BIT64_TO_BIT32_DTYPE``, "aligned with JAX"), so even ``dtype='float64'``
  rounds every per-sample mean (here every element) through float32 (known deviation
  ``keras_float64_computed_in_float32``; with the default dtype a float64 input is cast to float32
  outright and a float32 result returned).
- empty batches: a per-sample loss of shape (0,) -- every empty batch here -- is returned
  unreduced by 'sum' and 'sum_over_batch_size' (and 'sum_over_batch_size' of a (0, k) one is 0,
  ``divide_no_nan``, not NaN): known deviation ``keras_empty_batch_reductions``.

Cross-entropy: one subject (test id ``keras``, qualname ``keras.losses.(Sparse)CategoricalCrossentropy``)
whose target's kind picks the Keras class -- the contract takes both kinds in one function, and
the generic edge rows and the bad-input table's valid call use index targets.  Keras has no
class weight (the weight variants are not checked; ``weight`` is not a parameter).  The class axis
(1, or 0 for a (C,) input) is moved last (``movedim``, Keras's ``axis=-1`` convention:
CategoricalCrossentropy's label smoothing counts the classes on the last axis whatever ``axis``
says).

- SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_index) for index targets
  (variants index, ignore_index; every input layout).  The labels are given a trailing unit axis
  (Keras's documented (..., 1) label shape): Keras squeezes a trailing size-1 axis of the labels
  or of the logits when their ranks differ by one, which mistakes a (N, C, 1) input with (N, 1)
  labels for (N, C) with (N,) and returns (N,) -- with the unit axis the ranks are equal and only
  the label axis is squeezed.  The labels are cast to the loss dtype by Keras (exact for class
  indices below 256 in bfloat16, 2048 in float16).  'mean' over ignored targets: Keras gives
  valid entries the weight total / valid and divides by total -- the contract's mean over
  non-ignored targets -- but when every target is ignored that weight is divide_no_nan(total, 0)
  = 0 and the mean 0, not NaN (known deviation ``keras_all_ignored_mean_is_zero``): a non-empty
  batch of index targets all ignored is outside ``admits`` (the agreement strategy draws such
  batches, so no table row can name it).  No label smoothing (Keras's sparse loss has none):
  index targets with label_smoothing are outside ``admits``.
- CategoricalCrossentropy(from_logits=True, label_smoothing) for probability targets (variants
  prob, prob-label_smoothing; those with a weight need a class weight); no ignore class, so probability
  targets with an ignore_index are outside ``admits``.  Keras computes -sum(q log_softmax(x)),
  NaN where a logit is -inf and its target 0 (known deviation
  ``keras_cross_entropy_masked_logit_probability_target``, as torch's own probability path).

BinaryCrossentropy(from_logits=True) as bce_with_logits: Keras's torch backend calls
``torch.nn.functional.binary_cross_entropy_with_logits(reduction='none')``; weight as above;
no ``pos_weight`` (variants plain, weight).

BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=alpha >= 0, alpha, gamma) as the
focal contract: p_t = t p + (1 - t)(1 - p), (1 - p_t)^gamma and alpha_t = t alpha + (1 - t)
(1 - alpha) are torchvision's, soft targets included.  But from_logits=True is ``p = sigmoid(x)``
followed by the *probability* BCE, with p clipped to [1e-7, 1 - 1e-7]: the loss saturates at
-log(1e-7) = 16.12 for |x| > 16.1, and below that a positive logit loses relative accuracy like
u e^x (p's rounding near 1, ~u, divided by 1 - p ~ e^-x: x = 10, t = 0 gives 9.99959 for
10.0000454 in float32, t = 1 gives 4.54198e-5 for 4.53989e-5; known deviation
``keras_focal_from_logits_through_clipped_sigmoid``).  The model's budget for such a term is
~6u relative: the adapter is compared where every |x| <= 1 (e^1 = 2.7 < 6).

No subject:

- BinaryCrossentropy on probabilities (bce): the torch backend clips p to [1e-7, 1 - 1e-7]
  before torch's BCE, so BCE(0, 1) = -log(1e-7) = 16.12 (torch and the contract, with torch's log
  clamp: 100) and BCE(1, 1) = 1.19e-7 (exactly 0); 92 % of the bce strategy's cases (float32)
  contain a p the clip changes -- the near-0 and near-1 probabilities are what it draws on
  purpose -- so a domain without them would reject nearly every example (known deviation
  ``keras_bce_clips_probabilities``).
- KLDivergence (kl_div): it takes probabilities q (the contract takes log q: an ``exp`` in the
  adapter would round q first), has no log_target, and clips both t and q to [1e-7, 1], so a zero
  target contributes 1e-7 log(1e-7 / q), not 0; 93 % of the kl_div strategy's cases have a
  t or q below 1e-7 (known deviation ``keras_kl_divergence_clips_probabilities``).
- Dice (dice): 1 - 2 sum(g p) / (sum g + sum p + 1e-7): smooth_nr = 0 and smooth_dr = 1e-7
  fixed, no squared_pred, no include_background; the dice strategy never draws smooth_dr = 1e-7
  (and 1e-7 is subnormal in float16, outside the spec's comparable domain), so no case would
  ever be compared.
"""

from __future__ import annotations

import os

import numpy as np

from ..known import CaseDeviation
from ..subjects import Subject, timeout_seconds

os.environ.setdefault("KERAS_BACKEND", "torch")

LIBRARY = "keras"

DTYPES = ("float32", "float16", "bfloat16")

#: the focal adapter's domain: every logit within this (module docstring: u e^x vs ~6u)
FOCAL_MAX_ABS_LOGIT = 1.0

#: the contract's reduction -> Keras's, for losses whose weighted mean is mean(w l)
MEAN_OF_WEIGHTED = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}
#: mse: the weighted mean is sum(w l) / sum(w)
MEAN_OVER_WEIGHTS = {"none": "none", "sum": "sum", "mean": "mean_with_sample_weight"}


def _losses():
    from keras import losses  # KERAS_BACKEND is set above, before the first import

    return losses


def _dtype(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def _sample_weight(weight, input):
    """The contract's weight as Keras's sample_weight: broadcast to the input's shape, the shape of the
    per-sample values (a weight of another rank would be squeezed or expanded by Keras)."""
    import torch

    return None if weight is None else torch.broadcast_to(weight, input.shape)


def _elementwise(loss, input, target, weight, reduction: str):
    """Call a Keras loss that means over the last axis so that it is elementwise: input and target
    as ``reshape(-1, 1)`` (one sample per element), the 'none' result reshaped back.  Inputs whose
    shapes differ are passed as ``x[..., None]`` unflattened, so that Keras's own broadcasting
    decides (flattening could make (2, 3) and (3, 2) look alike)."""
    w = _sample_weight(weight, input)
    if input.shape != target.shape:
        return loss(target[..., None], input[..., None], sample_weight=w)
    out = loss(target.reshape(-1, 1), input.reshape(-1, 1), sample_weight=None if w is None else w.reshape(-1))
    return out.reshape(input.shape) if reduction == "none" else out


def mse(input, target, reduction: str = "mean", weight=None):
    """The mse contract through ``keras.losses.MeanSquaredError``: mean((y_true - y_pred)^2, axis=-1)."""
    loss = _losses().MeanSquaredError(reduction=MEAN_OVER_WEIGHTS.get(reduction, reduction), dtype=_dtype(input))
    return _elementwise(loss, input, target, weight, reduction)


def huber(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """The huber contract through ``keras.losses.Huber``: 0.5 e^2 for |e| <= delta, else
    delta |e| - 0.5 delta^2, meaned over the last axis."""
    loss = _losses().Huber(delta=delta, reduction=MEAN_OF_WEIGHTED.get(reduction, reduction), dtype=_dtype(input))
    return _elementwise(loss, input, target, weight, reduction)


def bce_with_logits(input, target, weight=None, reduction: str = "mean"):
    """The bce_with_logits contract through ``keras.losses.BinaryCrossentropy(from_logits=True)``
    (torch backend: torch's binary_cross_entropy_with_logits, meaned over the last axis)."""
    loss = _losses().BinaryCrossentropy(from_logits=True, reduction=MEAN_OF_WEIGHTED.get(reduction, reduction),
                                        dtype=_dtype(input))
    return _elementwise(loss, input, target, weight, reduction)


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """The focal contract through ``keras.losses.BinaryFocalCrossentropy(from_logits=True)``:
    alpha_t (1 - p_t)^gamma bce(t, clip(sigmoid(x), 1e-7, 1 - 1e-7)), meaned over the last axis."""
    loss = _losses().BinaryFocalCrossentropy(
        apply_class_balancing=alpha >= 0, alpha=alpha if alpha >= 0 else 0.25, gamma=gamma, from_logits=True,
        reduction=MEAN_OF_WEIGHTED.get(reduction, reduction), dtype=_dtype(inputs))
    return _elementwise(loss, inputs, targets, None, reduction)


def _classes_last(t):
    import torch

    return torch.movedim(t, 1, -1) if t.ndim > 1 else t


def cross_entropy(input, target, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
    """The cross_entropy contract through ``keras.losses.SparseCategoricalCrossentropy`` (index targets)
    or ``keras.losses.CategoricalCrossentropy`` (probability targets), both from_logits=True."""
    keras_reduction = MEAN_OF_WEIGHTED.get(reduction, reduction)
    if target.is_floating_point():  # ignore_index: outside _cross_entropy_admits unless -100 (no ignore class)
        loss = _losses().CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing,
                                                 reduction=keras_reduction, dtype=_dtype(input))
        return loss(_classes_last(target), _classes_last(input))
    if label_smoothing:  # outside _cross_entropy_admits: Keras's sparse loss has no label smoothing
        raise ValueError("keras.losses.SparseCategoricalCrossentropy has no label_smoothing")
    loss = _losses().SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_index,
                                                   reduction=keras_reduction, dtype=_dtype(input))
    return loss(target[..., None], _classes_last(input))


def _cross_entropy_admits(case) -> bool:
    """Probability targets without an ignore_index (CategoricalCrossentropy has no ignore class);
    index targets without label smoothing (SparseCategoricalCrossentropy has none), and not all
    ignored in a non-empty batch (Keras's mean over them is 0, the contract's NaN: known deviation
    keras_all_ignored_mean_is_zero; drawn at random, so excluded here, not by a table row).  No empty
    batch with spatial dimensions: the empty-batch rows record keras_empty_batch_reductions, which
    holds where the per-sample loss has shape (0,) -- a (0, C) input -- while a (0, C, d) input's
    (0, d) loss is reduced as the contract says; a row's record cannot tell the two apart."""
    t = case.args["target"]
    x = case.args["input"]
    if x.ndim > 2 and x.shape[0] == 0:
        return False
    ignore_index = case.kwargs.get("ignore_index", -100)
    if t.dtype.kind == "f":
        return ignore_index == -100
    return not case.kwargs.get("label_smoothing", 0.0) and (t.size == 0 or bool(np.any(t != ignore_index)))


def _same_shapes(case) -> bool:
    """Input and target of one shape (Keras does not broadcast: known deviation keras_losses_do_not_broadcast)."""
    return np.shape(case.args["input"]) == np.shape(case.args["target"])


NO_BROADCAST = "compared where input and target have one shape (known deviation keras_losses_do_not_broadcast); "


def _focal_admits(case) -> bool:
    x = case.args["inputs"]
    return bool(np.all(np.abs(x[~np.isnan(x)]) <= FOCAL_MAX_ABS_LOGIT))


#: one subject, two Keras classes: the target's kind picks the class (index -> sparse)
CROSS_ENTROPY_QUALNAME = "keras.losses.(Sparse)CategoricalCrossentropy"

FLOAT64 = ("float64 not checked: keras.ops.mean computes a float64 tensor in float32 on the torch backend "
           "(result_type maps float64 to float32), even with Loss(dtype='float64') (known deviation "
           "keras_float64_computed_in_float32)")


#: Keras moves every input to its own device (known deviation keras_meta_input_moved_to_keras_device):
#: on ``meta`` the result is not on the input's device, whatever the case
META_DEVICE = (CaseDeviation("keras_meta_input_moved_to_keras_device", "placement", lambda case, dtype: True,
                             why="Keras computes on its own device: the result is not on the inputs' device"),)


def _half_sum_overflows(loss: str):
    """``applies(case, dtype)`` of the known deviation keras_half_mean_sums_in_input_dtype: a float16
    'mean' whose per-sample losses' sum, formed in float16 by Keras, is beyond 65504 -- estimated from
    the reference as the larger of the (weighted) sum and the mean times the target's element count
    (Keras's sample weights of non-ignored targets are total / valid) -- or whose weights' sum, the
    divisor Keras also forms in float16, is (the mean is then 0: 3226 weights of 1 and 100, found by a
    default-profile run of test_mse[keras-float16-cpu-mean-weight])."""

    def applies(case, dtype: str) -> bool:
        if dtype != "float16" or case.kwargs.get("reduction") != "mean":
            return False
        from ..formats import FORMATS
        from ..specs import SPECS

        spec = SPECS[loss]
        count = max(v.size for v in case.args.values())
        with np.errstate(all="ignore"):
            total = max(abs(float(spec.call_reference(case.with_kwargs(reduction="sum")))),
                        abs(float(spec.call_reference(case))) * count)
        weight = case.kwargs.get("weight")
        weights = float(np.sum(np.abs(np.asarray(weight, dtype=np.float64)))) if weight is not None else 0.0
        return not total < 0.99 * FORMATS["float16"].max or weights >= FORMATS["float16"].overflow  # NaN included

    return CaseDeviation("keras_half_mean_sums_in_input_dtype", "agreement", applies,
                         why="float16 'mean': Keras sums the per-sample losses, and the weights it divides by, in float16")



def subjects(version: str) -> dict[str, list[Subject]]:
    import keras

    if keras.backend.backend() != "torch":  # KERAS_BACKEND chosen otherwise: Keras takes no torch tensors
        return {}
    common = dict(origin="thirdparty", dtypes=DTYPES, timeout=timeout_seconds())
    deviations = lambda loss: dict(case_deviations=(*META_DEVICE, _half_sum_overflows(loss)))
    elementwise = (f"Keras {version}: (y_true, y_pred) order; inputs as reshape(-1, 1) make the per-sample mean "
                   "elementwise ('none' reshaped back); dtype=the input's; ")
    return {
        "mse": [Subject(
            "mse", "keras", "keras.losses.MeanSquaredError", mse, source=f"{__name__}.mse", admits=_same_shapes,
            **common, **deviations("mse"),
            conventions=elementwise + "'mean' -> 'mean_with_sample_weight' (sum(w l) / sum(w)); weight -> "
                                      "sample_weight broadcast to the input",
            limits=NO_BROADCAST + FLOAT64)],
        "huber": [Subject(
            "huber", "keras", "keras.losses.Huber", huber, source=f"{__name__}.huber", admits=_same_shapes,
            **common, **deviations("huber"),
            conventions=elementwise + "'mean' -> 'sum_over_batch_size' (mean(w l)); weight -> sample_weight",
            limits=NO_BROADCAST + FLOAT64)],
        "bce_with_logits": [Subject(
            "bce_with_logits", "keras", "keras.losses.BinaryCrossentropy", bce_with_logits,
            source=f"{__name__}.bce_with_logits", variants=("plain", "weight"), **common, **deviations("bce_with_logits"),
            conventions=elementwise + "from_logits=True; 'mean' -> 'sum_over_batch_size'; weight -> sample_weight",
            limits="no pos_weight in Keras; " + FLOAT64)],
        "focal": [Subject(
            "focal", "keras", "keras.losses.BinaryFocalCrossentropy", focal, source=f"{__name__}.focal",
            admits=_focal_admits, **common, **deviations("focal"),
            conventions=elementwise + "from_logits=True; alpha < 0 -> apply_class_balancing=False, else True with "
                                      "alpha; 'mean' -> 'sum_over_batch_size'",
            limits="compared where every |logit| <= 1: from_logits=True is sigmoid then the probability BCE clipped "
                   "to [1e-7, 1 - 1e-7], relative error ~u e^x for a positive logit, saturated at 16.12 "
                   "beyond |x| = 16.1 (known deviation keras_focal_from_logits_through_clipped_sigmoid); " + FLOAT64)],
        "cross_entropy": [Subject(
            "cross_entropy", "keras", CROSS_ENTROPY_QUALNAME, cross_entropy, source=f"{__name__}.cross_entropy",
            admits=_cross_entropy_admits, variants=("index", "ignore_index", "prob", "prob-label_smoothing"), **common, **deviations("cross_entropy"),
            conventions=f"Keras {version}: from_logits=True; index targets -> SparseCategoricalCrossentropy("
                        "ignore_class=ignore_index), labels given a trailing unit axis; probability targets -> "
                        "CategoricalCrossentropy(label_smoothing); class axis moved last; 'mean' -> "
                        "'sum_over_batch_size' (ignored targets masked with weight total/valid)",
            limits="no class weight in Keras; no label smoothing for index targets (sparse loss); index targets all "
                   "ignored not compared: Keras's mean over them is 0 (divide_no_nan), not NaN (known deviation "
                   "keras_all_ignored_mean_is_zero); no ignore_index for probability targets; " + FLOAT64)],
    }
