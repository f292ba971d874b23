"""Sentence-transformers encoding with the model's query/passage prompts, and offline fallback.

`load_encoder` never raises and never waits forever: a model that is not available locally
and cannot be downloaded in time yields None with one warning, and the engine then runs
lexical-only.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelProfile:
    """Per-model-family defaults, because a fusion weight or a similarity threshold that
    suits one model is wrong for another.

    all-MiniLM-L6-v2 (English-only) was measured on XQuAD here: any weight on its ranking
    lowers Turkish-question results, while it lifts English questions on Turkish text.
    multilingual-e5 cannot be downloaded here; its profile follows the published XQuAD-tr
    figure (0.9445 nDCG@10, level with our stemmed BM25), i.e. equal weights, and its
    similarity threshold is E5's usual relevant/irrelevant boundary, not a local measurement.
    """

    dense_weight: float = 1.0
    dense_weight_cross: float = 1.0
    min_similarity: float = 0.85


_PROFILES = {
    "e5": ModelProfile(dense_weight=1.0, dense_weight_cross=1.0, min_similarity=0.86),
    "minilm": ModelProfile(dense_weight=0.0, dense_weight_cross=1.0, min_similarity=0.65),
}
_E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


@dataclass
class Encoder:
    name: str
    model: Any  # sentence_transformers.SentenceTransformer
    prompts: dict[str, str]
    batch_size: int = 32

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def profile(self) -> ModelProfile:
        lowered = self.name.lower()
        for family, profile in _PROFILES.items():
            if family in lowered:
                return profile
        return ModelProfile()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.prompts.get("query", ""))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.prompts.get("passage", ""))

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            [prompt + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(
    name: str | None, *, timeout: float = 120.0, batch_size: int = 32
) -> Encoder | None:
    """Load `name` (hub id or local path) on the CPU, or return None with one warning."""
    if not name:
        return None
    model, error = _load_model(name, timeout)
    if model is None:
        log.warning(
            "Embedding model %r unavailable (%s): answering with lexical (BM25) retrieval only.",
            name,
            error,
        )
        return None
    return Encoder(name=name, model=model, prompts=_prompts(name, model), batch_size=batch_size)


def _load_model(name: str, timeout: float) -> tuple[Any | None, str]:
    from sentence_transformers import SentenceTransformer

    local = Path(name).expanduser()
    if local.exists():
        try:
            return SentenceTransformer(str(local), device="cpu"), ""
        except Exception as err:  # a broken local model is reported, not raised
            return None, f"cannot load local model: {err}"
    try:  # the Hugging Face cache, without touching the network
        return SentenceTransformer(name, device="cpu", local_files_only=True), ""
    except Exception as err:
        cached_error = str(err).splitlines()[0] if str(err) else type(err).__name__
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return None, f"not in the local cache and HF_HUB_OFFLINE is set ({cached_error})"
    if unreachable := _hub_unreachable():
        return None, f"not in the local cache and the model hub is unreachable ({unreachable})"
    return _download_with_deadline(name, timeout)


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


def _download_with_deadline(name: str, timeout: float) -> tuple[Any | None, str]:
    """A download in a daemon thread, abandoned (not awaited) when it overruns `timeout`."""
    from sentence_transformers import SentenceTransformer

    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["model"] = SentenceTransformer(name, device="cpu")
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
