"""Float64 NumPy/SciPy reference implementations of the lossproof losses.

One function per loss, each mirroring the full parameter surface of the
function it checks (see each module's docstring for the formula and source).
No torch import anywhere in this package.  ``refimpl.exact`` holds the
high-precision (mpmath) evaluations that verify these references.
"""

from .bce import bce
from .bce_with_logits import bce_with_logits
from .contrastive import contrastive
from .cosine_embedding import cosine_embedding
from .cross_entropy import cross_entropy
from .dice import dice
from .focal import focal
from .hinge_embedding import hinge_embedding
from .huber import huber
from .kl_div import kl_div
from .mse import mse
from .smooth_l1 import smooth_l1
from .triplet_margin import triplet_margin

__all__ = [
    "bce", "bce_with_logits", "contrastive", "cosine_embedding", "cross_entropy", "dice", "focal",
    "hinge_embedding", "huber", "kl_div", "mse", "smooth_l1", "triplet_margin",
]
