"""The model hubs ImageNet weights come from (timm's Hugging Face hub, torchvision's server):
where each is, whether it answers, and what its cache on this machine already holds.

Asked before anything is downloaded, so an unreachable hub is detected at once and a cached copy
is found without the network; `weights` loads what they point to.
"""
from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import torch

from ..core.architectures import Architecture

OFFLINE_ENV = "SPRING_OFFLINE"        # the project's "never touch the network"
HUB_OFFLINE_ENV = "HF_HUB_OFFLINE"    # Hugging Face's "use the local cache only"


def env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_address(library: str) -> tuple[str, int]:
    """(host, port) the weights come from: HF_ENDPOINT with its own scheme and port for timm
    (an internal mirror at http://mirror:8080 is asked on 8080), PyTorch's server otherwise."""
    if library == "timm":
        url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        return url.hostname or "", url.port or (80 if url.scheme == "http" else 443)
    return "download.pytorch.org", 443


@lru_cache(maxsize=None)
def hub_unreachable(host: str, port: int = 443, timeout_s: float = 5.0) -> str | None:
    """Why `host:port` cannot be reached, or None. Asked once per process: without it, every
    pretrained arm on an offline machine waits through the hub client's retries (~45 s)."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"{host}:{port} is not reachable ({exc})"
    return None


def torchvision_cached(arch: Architecture):
    """(torchvision's ImageNet weights enum, where its hub cache keeps their file)."""
    import torchvision

    weights = torchvision.models.get_model_weights(arch.model_name).IMAGENET1K_V1
    return weights, Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def timm_cached_file(arch: Architecture) -> Path | None:
    """The file of the architecture's timm weights in the Hugging Face cache, if it is there."""
    from huggingface_hub import constants, try_to_load_from_cache

    if not Path(constants.HF_HUB_CACHE).is_dir():
        return None
    import timm

    repo = timm.models.get_pretrained_cfg(arch.model_name).hf_hub_id
    for name in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(repo, name) if repo else None
        if isinstance(found, str):
            return Path(found)
    return None
