"""torchvision adapter: ``torchvision.ops.sigmoid_focal_loss``, the function the focal contract mirrors.

No translation: same signature (inputs, targets, alpha, gamma, reduction), same conventions
(alpha < 0 disables the alpha weighting, soft targets, reduction 'none' by default); every
dtype, every input.  A subject only where ``torchvision.ops`` imports: when torchvision is
absent, or broken at import (a torchvision built for another torch raises RuntimeError there),
the focal loss simply has no torchvision subject.
"""

from __future__ import annotations

from ..subjects import Subject, timeout_seconds

LIBRARY = "torchvision.ops"

FOCAL_QUALNAME = "torchvision.ops.sigmoid_focal_loss"


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """``torchvision.ops.sigmoid_focal_loss`` itself (keyword parameters, as the contract)."""
    from torchvision.ops import sigmoid_focal_loss

    return sigmoid_focal_loss(inputs, targets, alpha=alpha, gamma=gamma, reduction=reduction)


def subjects(version: str) -> dict[str, list[Subject]]:
    return {"focal": [Subject(
        "focal", "torchvision", FOCAL_QUALNAME, focal, origin="thirdparty", source=f"{__name__}.focal", timeout=timeout_seconds(),
        conventions=f"torchvision {version}: none (the contract is its semantics)",
        limits="none",
    )]}
