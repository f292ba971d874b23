"""Engine configuration: a plain value object, filled once by the application's settings.

The engine never reads the environment itself; `bot.settings` does that once and passes an
`EngineConfig` in, so tests and the evaluation build engines with exactly what they state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class FusionConfig:
    """How lexical and dense rankings are combined.

    The dense ranking's weight depends on the question: `dense_weight` when all of its words
    occur in the corpus vocabulary (same language: the lexical side is informative),
    rising to `dense_weight_cross` when none do (a question in another language, where only
    the model can match). None takes the loaded model's measured profile (see encoder.py).
    """

    method: str = "rrf"  # "rrf" (weighted reciprocal rank) or "score" (min-max normalised)
    lexical_weight: float = 1.0
    dense_weight: float | None = None
    dense_weight_cross: float | None = None
    cross_sharpness: float = 8.0  # exponent on the share of the question missing from the corpus
    rrf_k: int = 60
    depth: int = 100  # candidates taken from each ranking before fusing


@dataclass(frozen=True)
class EngineConfig:
    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")
    model: str | None = DEFAULT_MODEL  # hub name or local path; None = lexical only
    model_load_timeout: float = 120.0  # seconds before giving up on a download
    batch_size: int = 32
    hnsw_threshold: int = 50_000  # passages above which FAISS uses HNSW instead of exact search
    fusion: FusionConfig = field(default_factory=FusionConfig)
    # A passage answers the question when it covers this share of the question's
    # IDF-weighted terms, or (with a model) its cosine similarity reaches min_similarity.
    min_coverage: float = 0.4
    min_similarity: float | None = None  # None: the encoder's calibrated default
    reader_connections: int = 2
    # "memory": BM25 from numpy postings loaded next to the database (fast at scale);
    # "fts5": scored by SQLite FTS5 at query time. Both give the same ranking.
    lexical_backend: str = "memory"
