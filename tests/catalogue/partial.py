"""Correct *partial* implementations, derived for every loss and every optional parameter of its
contract: ``<loss>__without_<param>`` accepts every keyword parameter of the contract but
``<param>``, and ``<loss>__without_all`` none of them (tensors only) -- the mean-only,
no-``ignore_index``, no-``eps`` code real teams write.  The gate must pass each of them, with
examples in every check family that applies (``tests/test_partial_plugins.py``).

Each is the full implementation of the loss -- its torch built-in, or the catalogue's correct entry
where torch has none (focal, contrastive, Dice) -- behind a signature without those parameters, so
a lacking parameter is at the contract's default by construction.  A cross-entropy without
``ignore_index`` also refuses negative class indices, as a gather-based implementation does
(``torch.gather`` raises on them), so the gate must never feed it an ignored target.
"""

from __future__ import annotations

import inspect

from properties.fit import contract_defaults
from properties.specs import SPECS
from properties.subjects import resolve

from . import divergence_segmentation, embedding
from .classification import sigmoid_focal_loss


def _full(loss: str):
    spec = SPECS[loss]
    if spec.torch_function:
        return resolve(spec.torch_function)
    if loss == "contrastive":  # an nn.Module class: constructed with the parameters, called with the tensors
        return lambda *tensors, **kwargs: embedding.ContrastiveLoss(**kwargs)(*tensors)
    return {"focal": sigmoid_focal_loss, "dice": divergence_segmentation.dice}[loss]


def without(loss: str, lacking: tuple[str, ...]):
    """The full implementation of ``loss`` behind the contract's signature less ``lacking``."""
    spec = SPECS[loss]
    full = _full(loss)
    ref = inspect.signature(spec.reference)
    params = [p for name, p in ref.parameters.items() if name not in lacking and name not in spec.reference_kwargs]

    def partial(*tensors, **kwargs):
        unknown = set(kwargs) - {p.name for p in params}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}")
        if "ignore_index" in lacking and not tensors[1].is_floating_point() and bool((tensors[1] < 0).any()):
            raise ValueError("Class values must be non-negative")  # as a gather-based implementation refuses
        return full(*tensors, **kwargs)

    partial.__signature__ = inspect.Signature(params)
    partial.__name__ = partial.__qualname__ = f"{loss}__without_{'all' if len(lacking) > 1 else lacking[0]}"
    partial.__doc__ = f"{loss} (full: {getattr(full, '__qualname__', full)}) without {', '.join(lacking)}"
    return partial


def optional(loss: str) -> tuple[str, ...]:
    """The contract's optional keyword parameters of ``loss``."""
    return tuple(contract_defaults(SPECS[loss]))


#: name -> (loss, lacking parameters) of every derived partial implementation
PARTIAL: dict[str, tuple[str, tuple[str, ...]]] = {}
for _loss in SPECS:
    for _p in optional(_loss):
        PARTIAL[f"{_loss}__without_{_p}"] = (_loss, (_p,))
    if len(optional(_loss)) > 1:
        PARTIAL[f"{_loss}__without_all"] = (_loss, optional(_loss))
for _name, (_loss, _lacking) in PARTIAL.items():
    globals()[_name] = without(_loss, _lacking)
