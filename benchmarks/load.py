"""Load test: the real bot against the fake Bot API with Telegram's flood limits on.

    python benchmarks/load.py [--askers 100] [--questions 5] [--group-users 20] [--mentions 2]

The bot runs as `qabot run` does (`bot.app.serve`), lexical-only over the seed corpus in
corpus/, and talks over HTTP to tests/bot/fake_telegram.py on 127.0.0.1, which answers 429
beyond about 30 messages/s overall, 20/min per group and 1/s per private chat (short bursts
pass). Two scenarios, one after the other:

(a) private askers, each sending all their questions at once;
(b) one busy group, whose users each @mention the bot several times at once.

For each: how many questions were answered, answers per second, and the latency from the
update being queued to its reply reaching Telegram (p50, p95, max). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # for tests.bot.fake_telegram

from bot.app import serve  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.bot.fake_telegram import Call, FakeTelegram  # noqa: E402

TOKEN = "123456:AAHloadTestTokenForBenchmarks_0123456"
BOT_USERNAME = "QaLoadBot"
GROUP = -100200300
QUESTIONS = [
    "16 Aralık konferansına kim başkanlık etti?",
    "Konferans hangi tarihte yapıldı?",
    "Who chaired the conference on 16 December?",
    "Japonya'nın en yüksek dağı hangisidir?",
    "Parti örgütlerinin 2024 çalışmaları nasıl değerlendirildi?",
]
START_TIMEOUT = 120.0  # seconds for the bot to build the index and poll
SCENARIO_TIMEOUT = 240.0  # seconds for every question of a scenario to be answered


@dataclass
class Result:
    scenario: str
    asked: int
    latencies: list[float]  # seconds, of the questions answered
    seconds: float  # from the first question to the last answer (or the timeout)
    flood_429s: int
    typing_actions: int

    def row(self) -> list[str]:
        answered = len(self.latencies)
        if not answered:
            return [self.scenario, f"0/{self.asked}", "-", "-", "-", "-", "-", "-"]
        p95 = statistics.quantiles(self.latencies, n=20)[-1] if answered > 1 else self.latencies[0]
        return [
            self.scenario,
            f"{answered}/{self.asked}",
            f"{answered / self.seconds:.1f}",
            f"{statistics.median(self.latencies):.1f}",
            f"{p95:.1f}",
            f"{max(self.latencies):.1f}",
            str(self.flood_429s),
            str(self.typing_actions),
        ]


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="qabot-load-") as data_dir:
        async with FakeTelegram(TOKEN, bot_username=BOT_USERNAME, flood_limits=True) as tg:
            settings = Settings(
                telegram_bot_token=TOKEN,
                corpus_dir=ROOT / "corpus",
                data_dir=Path(data_dir),
                embedding_model=None,
                telegram_api_base_url=tg.base_url,
                rate_limit_questions=max(args.questions, args.mentions),
                log_level="WARNING",
            )
            stop = asyncio.Event()
            bot = asyncio.create_task(serve(settings, stop))
            await tg.wait_for("getUpdates", timeout=START_TIMEOUT)
            results = [
                await measure(
                    tg,
                    f"(a) {args.askers} private askers × {args.questions} questions",
                    lambda: [
                        tg.private_message(10_000 + user, QUESTIONS[n % len(QUESTIONS)])
                        for user in range(args.askers)
                        for n in range(args.questions)
                    ],
                ),
                await measure(
                    tg,
                    f"(b) 1 group, {args.group_users} users × {args.mentions} @mentions",
                    lambda: [
                        tg.group_message(
                            GROUP, 20_000 + user, f"@{BOT_USERNAME} {QUESTIONS[n % len(QUESTIONS)]}"
                        )
                        for user in range(args.group_users)
                        for n in range(args.mentions)
                    ],
                ),
            ]
            stop.set()
            await asyncio.wait_for(bot, 60)
    print_table(results)
    return 0 if all(len(r.latencies) == r.asked for r in results) else 1


async def measure(
    tg: FakeTelegram, scenario: str, ask: Callable[[], list[dict[str, Any]]]
) -> Result:
    """Queue the scenario's questions at once; wait (bounded) until each has its reply."""
    calls_before = len(tg.calls)
    started = time.monotonic()
    updates = ask()
    asked = {(u["message"]["chat"]["id"], u["message"]["message_id"]): started for u in updates}
    answered: dict[tuple[int, int], float] = {}
    deadline = started + SCENARIO_TIMEOUT
    while len(answered) < len(asked) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        for call in tg.calls[calls_before:]:
            key = _replied_to(call)
            if key in asked and key not in answered:
                answered[key] = call.at
    calls = tg.calls[calls_before:]
    last = max(answered.values(), default=time.monotonic())
    return Result(
        scenario=scenario,
        asked=len(asked),
        latencies=[at - asked[key] for key, at in answered.items()],
        seconds=last - started,
        flood_429s=sum(1 for c in calls if c.failed and (c.error or "").startswith("Too Many")),
        typing_actions=sum(1 for c in calls if c.method == "sendChatAction"),
    )


def _replied_to(call: Call) -> tuple[int, int] | None:
    if call.method != "sendMessage" or call.failed:
        return None
    reply = call.params.get("reply_parameters") or {}
    return call.params.get("chat_id"), reply.get("message_id")


def print_table(results: list[Result]) -> None:
    header = ["scenario", "answered", "answers/s", "p50 s", "p95 s", "max s", "429s", "typing"]
    rows = [header, *(result.row() for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--askers", type=int, default=100, help="private askers in (a)")
    parser.add_argument("--questions", type=int, default=5, help="questions per asker in (a)")
    parser.add_argument("--group-users", type=int, default=20, help="users of the group in (b)")
    parser.add_argument("--mentions", type=int, default=2, help="@mentions per user in (b)")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_arguments())))
