"""All configuration, read once from the environment and an optional `.env` file.

Every setting is listed, with a comment, in `.env.example`. The engine gets its part as an
`EngineConfig`; nothing else in the code base reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from embeddings.config import DEFAULT_MODEL, EngineConfig, FusionConfig
from embeddings.ingest.config import IngestConfig
from embeddings.ingest.urls import BadURL, check_web_url

PUBLIC_API_BASE_URL = "https://api.telegram.org/bot"
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str | None = None
    admin_user_ids: frozenset[int] = frozenset()
    allowed_chat_ids: frozenset[int] | None = None  # None: every chat
    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")
    embedding_model: str | None = DEFAULT_MODEL
    model_load_timeout: float = 120.0
    embedding_device: str = "auto"
    encode_workers: int = 1
    rate_limit_questions: int = 5  # per user ...
    rate_limit_window: float = 60.0  # ... per this many seconds
    max_question_chars: int = 500
    telegram_api_base_url: str = PUBLIC_API_BASE_URL
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    log_level: str = "INFO"
    fusion: FusionConfig = field(default_factory=FusionConfig)
    lexical_backend: str = "memory"
    watch_corpus: bool = True
    feed_urls: tuple[str, ...] = ()
    feed_interval: float = 900.0

    @property
    def telegram_file_base_url(self) -> str:
        """Bot API file URL matching the API base (".../bot" → ".../file/bot")."""
        base = self.telegram_api_base_url.rstrip("/")
        head, sep, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if sep else f"{base}/file"

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            corpus_dir=self.corpus_dir,
            data_dir=self.data_dir,
            model=self.embedding_model,
            model_load_timeout=self.model_load_timeout,
            device=self.embedding_device,
            encode_workers=self.encode_workers,
            fusion=self.fusion,
            lexical_backend=self.lexical_backend,
        )

    def ingest_config(self) -> IngestConfig:
        return IngestConfig(
            corpus_dir=self.corpus_dir,
            data_dir=self.data_dir,
            feed_urls=self.feed_urls,
            feed_interval=self.feed_interval,
        )

    def token_problem(self) -> str | None:
        """Why the token cannot be used, in one line naming what to set; None if it looks valid."""
        if not self.telegram_bot_token:
            return (
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather"
                " in .env or the environment."
            )
        if not TOKEN_PATTERN.match(self.telegram_bot_token):
            return (
                "TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<35 characters>'"
                " as given by @BotFather."
            )
        return None


def load_settings(
    env: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Settings from `env` (default: os.environ) over the `.env` file's values."""
    values: dict[str, str | None] = {}
    if env_file is not None and env_file.is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ if env is None else env)
    get = lambda name: (values.get(name) or "").strip() or None  # noqa: E731
    model = get("EMBEDDING_MODEL")
    return Settings(
        telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
        admin_user_ids=frozenset(_ids(get("ADMIN_USER_IDS"), "ADMIN_USER_IDS")),
        allowed_chat_ids=(
            frozenset(_ids(get("ALLOWED_CHAT_IDS"), "ALLOWED_CHAT_IDS"))
            if get("ALLOWED_CHAT_IDS")
            else None
        ),
        corpus_dir=Path(get("CORPUS_DIR") or "corpus"),
        data_dir=Path(get("DATA_DIR") or "data"),
        embedding_model=None
        if model and model.lower() in ("none", "off")
        else (model or DEFAULT_MODEL),
        model_load_timeout=_number(get("MODEL_LOAD_TIMEOUT"), "MODEL_LOAD_TIMEOUT", 120.0),
        embedding_device=get("EMBEDDING_DEVICE") or "auto",
        encode_workers=max(1, int(_number(get("ENCODE_WORKERS"), "ENCODE_WORKERS", 1))),
        rate_limit_questions=int(_number(get("RATE_LIMIT_QUESTIONS"), "RATE_LIMIT_QUESTIONS", 5)),
        rate_limit_window=_number(
            get("RATE_LIMIT_WINDOW_SECONDS"), "RATE_LIMIT_WINDOW_SECONDS", 60.0
        ),
        max_question_chars=int(_number(get("MAX_QUESTION_CHARS"), "MAX_QUESTION_CHARS", 500)),
        telegram_api_base_url=get("TELEGRAM_API_BASE_URL") or PUBLIC_API_BASE_URL,
        webhook_url=get("WEBHOOK_URL"),
        webhook_secret=get("WEBHOOK_SECRET"),
        webhook_listen=get("WEBHOOK_LISTEN") or "0.0.0.0",
        webhook_port=int(_number(get("WEBHOOK_PORT"), "WEBHOOK_PORT", 8443)),
        log_level=(get("LOG_LEVEL") or "INFO").upper(),
        fusion=FusionConfig(
            lexical_weight=_number(get("FUSION_LEXICAL_WEIGHT"), "FUSION_LEXICAL_WEIGHT", 1.0),
            dense_weight=_optional(get("FUSION_DENSE_WEIGHT"), "FUSION_DENSE_WEIGHT"),
            dense_weight_cross=_optional(
                get("FUSION_DENSE_WEIGHT_CROSS"), "FUSION_DENSE_WEIGHT_CROSS"
            ),
        ),
        lexical_backend=_choice(get("LEXICAL_BACKEND"), "LEXICAL_BACKEND", ("memory", "fts5")),
        watch_corpus=_flag(get("WATCH_CORPUS"), "WATCH_CORPUS", True),
        feed_urls=parse_feed_urls(get("FEED_URLS"), "FEED_URLS"),
        feed_interval=_at_least(
            _number(get("FEED_INTERVAL_SECONDS"), "FEED_INTERVAL_SECONDS", 900.0),
            60.0,
            "FEED_INTERVAL_SECONDS",
        ),
    )


def parse_feed_urls(raw: str | None, name: str) -> tuple[str, ...]:
    """Comma- or space-separated http(s) URLs, each once, in order."""
    urls = []
    for part in re.split(r"[,\s]+", raw or ""):
        if not part:
            continue
        try:
            urls.append(check_web_url(part))
        except BadURL as err:
            raise SettingsError(f"{name}: {err}") from None
    return tuple(dict.fromkeys(urls))


def _ids(raw: str | None, name: str) -> list[int]:
    if not raw:
        return []
    try:
        return [int(part) for part in re.split(r"[,\s]+", raw) if part]
    except ValueError:
        raise SettingsError(
            f"{name} must be comma-separated numeric Telegram ids, got {raw!r}"
        ) from None


def _optional(raw: str | None, name: str) -> float | None:
    """Unset means "the model's measured default" (see embeddings/encoder.py)."""
    return None if raw is None else _number(raw, name, 0.0)


def _choice(raw: str | None, name: str, choices: tuple[str, ...]) -> str:
    value = (raw or choices[0]).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _flag(raw: str | None, name: str, default: bool) -> bool:
    if raw is None:
        return default
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _at_least(value: float, minimum: float, name: str) -> float:
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, got {value:g}")
    return value


def _number(raw: str | None, name: str, default: float) -> float:
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
