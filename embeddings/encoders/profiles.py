"""Per-model settings measured by `qabot calibrate`: fusion weights and the answer rule.

A fusion weight or a similarity threshold that suits one model is wrong for another, so
each encoder key has its own profile. Shipped profiles live in `profiles.json` beside this
module; `qabot calibrate` writes the configured model's into the data folder, which wins.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from embeddings.answer import AnswerRule

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).with_name("profiles.json")
LEXICAL = "none"  # the profile key of lexical-only retrieval


@dataclass(frozen=True)
class ModelProfile:
    dense_weight: float = 1.0  # the dense ranking's weight, same-language questions
    dense_weight_cross: float = 1.0  # ... and questions in another language
    same: AnswerRule = field(default_factory=AnswerRule)
    cross: AnswerRule = field(default_factory=AnswerRule)
    # Further sources answer too only when their fused score is within this share of the
    # best passage's (see answer.py): a second source must be nearly as good as the first.
    secondary_ratio: float = 0.8
    measured: str = ""  # what it was calibrated on, for people

    def rule(self, cross: bool) -> AnswerRule:
        """The answer rule for a question in the corpus language, or in another one."""
        return self.cross if cross else self.same

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelProfile:
        data = dict(data)
        for group in ("same", "cross"):
            if isinstance(data.get(group), dict):
                data[group] = AnswerRule(**data[group])
        return cls(**data)


def profile_for(key: str | None, override: Path | None = None) -> tuple[ModelProfile, str]:
    """The profile for an encoder key (None: lexical-only) and where it came from."""
    key = key or LEXICAL
    for path in (override, SHIPPED):
        if path is not None and path.is_file():
            entry = _read(path).get(key)
            if entry is not None:
                return ModelProfile.from_dict(entry), "shipped" if path == SHIPPED else str(path)
    log.warning("No calibrated profile for %r: using defaults (run `qabot calibrate`).", key)
    return ModelProfile(), "defaults"


def save_profile(path: Path, key: str | None, profile: ModelProfile) -> None:
    """Add or replace one model's profile in a profiles file."""
    profiles = _read(path) if path.is_file() else {}
    profiles[key or LEXICAL] = profile.to_dict()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(profiles, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def _read(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.warning("Ignoring unreadable profiles file %s: %s", path, err)
        return {}
