"""Any sentence-transformers model: a hub name or a local path, on a CUDA GPU when there is
one (or the device configured), else on the CPU.

Loading never raises and never waits forever: a model that is not available locally and
cannot be downloaded in time yields None and the reason.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from embeddings.encoders.base import Encoder, fingerprint

log = logging.getLogger(__name__)

_E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


class SentenceTransformerEncoder(Encoder):
    def __init__(self, name: str, model: Any, batch_size: int = 32) -> None:
        super().__init__()
        self.name = name
        local = Path(name).expanduser()
        # A local model is known by its content, not its path: moving the folder keeps
        # the embedding cache, and a profile measured elsewhere still applies.
        self.key = f"local:{fingerprint(local)}" if local.is_dir() else name
        self.device = str(model.device)
        self.description = f"{name} (sentence-transformers, {self.device})"
        self._model = model
        self._prompts = _prompts(name, model)
        self._batch_size = batch_size
        self.dim = int(model.get_embedding_dimension())

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        prompt = self._prompts.get("query" if query else "passage", "")
        return self._model.encode(
            [prompt + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def choose_device(setting: str = "auto") -> str:
    """The torch device for `EMBEDDING_DEVICE`: "auto" takes a CUDA GPU, then Apple's MPS,
    then the CPU; a named device that is not there falls back to the CPU with one warning
    (a model that cannot encode would leave the bot lexical-only)."""
    import torch

    wanted = (setting or "auto").strip().lower()
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    kind = wanted.split(":", 1)[0]
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if available.get(kind):
        if kind == "cuda" and ":" in wanted:
            index = int(wanted.split(":", 1)[1] or 0)
            if index >= torch.cuda.device_count():
                log.warning("EMBEDDING_DEVICE=%s: no such GPU; encoding on the CPU.", setting)
                return "cpu"
        return wanted
    log.warning("EMBEDDING_DEVICE=%s is not available here; encoding on the CPU.", setting)
    return "cpu"


def load(name: str, timeout: float, device: str = "cpu") -> tuple[Any | None, str]:
    """(model, "") or (None, why not): a local path, the Hugging Face cache, then the hub."""
    from sentence_transformers import SentenceTransformer

    local = Path(name).expanduser()
    if local.exists():
        try:
            return SentenceTransformer(str(local), device=device), ""
        except Exception as err:  # a broken local model is reported, not raised
            return None, f"cannot load local model: {err}"
    try:  # the Hugging Face cache, without touching the network
        return SentenceTransformer(name, device=device, local_files_only=True), ""
    except Exception as err:
        cached_error = str(err).splitlines()[0] if str(err) else type(err).__name__
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return None, f"not in the local cache and HF_HUB_OFFLINE is set ({cached_error})"
    if unreachable := _hub_unreachable():
        return None, f"not in the local cache and the model hub is unreachable ({unreachable})"
    return _download_with_deadline(name, timeout, device)


def _hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the model hub cannot be reached, found in seconds, or None.

    Without network, huggingface_hub retries each file with backoff and a warning per try;
    one quick connection attempt tells the same and leaves one warning to give.
    """
    from huggingface_hub import constants

    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return None
    except OSError as err:
        return f"{endpoint.hostname}: {err.strerror or err}"


def _download_with_deadline(
    name: str, timeout: float, device: str = "cpu"
) -> tuple[Any | None, str]:
    """A download in a daemon thread, abandoned (not awaited) when it overruns `timeout`."""
    from sentence_transformers import SentenceTransformer

    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["model"] = SentenceTransformer(name, device=device)
        except Exception as err:
            result["error"] = str(err).splitlines()[0] if str(err) else type(err).__name__

    worker = threading.Thread(target=run, name=f"download-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return None, f"download did not finish within {timeout:.0f} s"
    return result.get("model"), result.get("error", "")


def _prompts(name: str, model: Any) -> dict[str, str]:
    """The model's own configured prompts, or E5's convention for E5 models."""
    configured = getattr(model, "prompts", None) or {}
    query = configured.get("query")
    passage = configured.get("passage") or configured.get("document")
    if query is not None or passage is not None:
        return {"query": query or "", "passage": passage or ""}
    return dict(_E5_PROMPTS) if "e5" in name.lower() else {}
