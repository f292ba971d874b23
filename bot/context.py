"""What every handler gets besides the update: the engine, storage, settings, limiter."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from telegram.ext import CallbackContext, ExtBot

from bot.ratelimit import SlidingWindowLimiter
from bot.settings import Settings
from bot.storage import Storage
from embeddings.engine import Engine


@dataclass
class Services:
    settings: Settings
    engine: Engine
    storage: Storage
    limiter: SlidingWindowLimiter
    started: float = field(default_factory=time.monotonic)  # for /stats uptime


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """PTB's context with typed access to the services (kept in bot_data by the wiring)."""

    @property
    def services(self) -> Services:
        return self.bot_data["services"]
