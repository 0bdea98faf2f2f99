"""The audit's environment record: what the numbers were measured with (versions, devices,
TF32 and determinism flags, threads, seed), so two audits can be told apart and compared."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: Packages whose versions the record names (None: not installed).
PACKAGES = ("torch", "numpy", "scipy", "hypothesis", "lossproof", "monai", "kornia", "torchvision",
            "pytorch-metric-learning", "matplotlib")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def device_info(device: str) -> dict:
    import torch

    if device == "cpu":
        return {"device": "cpu", "name": platform.processor() or platform.machine(), "cuda_version": None,
                "capability": None, "tf32_matmul": None, "tf32_cudnn": None,
                "float32_matmul_precision": torch.get_float32_matmul_precision()}
    index = torch.device(device).index or 0
    major, minor = torch.cuda.get_device_capability(index)
    return {"device": device, "name": torch.cuda.get_device_name(index), "cuda_version": torch.version.cuda,
            "capability": f"{major}.{minor}", "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def environment(devices, seed: int) -> dict:
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in PACKAGES} | {"torch": torch.__version__},
        "devices": [device_info(d) for d in devices],
        "torch_threads": torch.get_num_threads(),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "seed": int(seed),
    }
