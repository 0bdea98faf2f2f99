"""The loss specs, one record per loss, gathered into ``SPECS`` (ordered by name of the source article)."""

from .classification import BCE, BCE_WITH_LOGITS, CROSS_ENTROPY, FOCAL
from .divergence import KL_DIV
from .embedding import CONTRASTIVE, COSINE_EMBEDDING, HINGE_EMBEDDING, TRIPLET_MARGIN
from .regression import HUBER, MSE, SMOOTH_L1
from .segmentation import DICE

SPECS = {
    s.name: s
    for s in (
        MSE, CROSS_ENTROPY, BCE, BCE_WITH_LOGITS, KL_DIV, HINGE_EMBEDDING, HUBER, SMOOTH_L1,
        TRIPLET_MARGIN, COSINE_EMBEDDING, CONTRASTIVE, FOCAL, DICE,
    )
}
