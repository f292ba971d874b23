"""Load figures for issue 13: a feed round, the watcher at rest, and a dropped file's delay.

    python benchmarks/ingest_load.py [--feeds 10] [--items 50] [--files 10000] [--idle 30]
                                     [--model bundled:multilingual-e5-small|none]

(a) One round over `--feeds` RSS feeds of `--items` items each, every item a distinct Turkish
    article page in full page furniture, served by tests/embeddings/ingest/newssite.py on
    loopback: once with every feed on one host (127.0.0.1, so the per-host limit of 2
    requests in flight governs), once with each feed on its own loopback address
    (127.0.0.2…). Then the index update for the articles written (`update_files`, with
    `--model`).
(b) The watcher at rest over a corpus of `--files` Markdown files (100 per folder): the CPU
    time this process uses over `--idle` seconds with nothing changing, against the same
    wait with no watcher, and how long the watches take to set.
(c) With the watcher running over the seed corpus and `--model`: the delay from a small
    article's file being complete to its question being answered (5 drops).

Nothing leaves the machine: every request goes to a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # for tests.embeddings.ingest.newssite

from embeddings.config import DEFAULT_MODEL, EngineConfig  # noqa: E402
from embeddings.engine import Engine  # noqa: E402
from embeddings.ingest.autoindex import AutoIndexer  # noqa: E402
from embeddings.ingest.config import IngestConfig  # noqa: E402
from embeddings.ingest.rounds import Ingestor, RoundReport  # noqa: E402
from embeddings.ingest.state import IngestState  # noqa: E402
from embeddings.ingest.watcher import CorpusWatcher  # noqa: E402
from tests.embeddings.ingest.newssite import NewsSite, Story  # noqa: E402

CITIES = ("Adana", "Bursa", "Çorum", "Denizli", "Edirne", "Giresun", "Hatay", "Kars", "Muş", "Van")
TOPICS = ("yol yapımı", "okul onarımı", "park düzenlemesi", "su şebekesi", "kütüphane")


def story(n: int) -> Story:
    """A distinct article: its numbers and names differ, so no two share a content hash."""
    city, topic = CITIES[n % len(CITIES)], TOPICS[n % len(TOPICS)]
    return Story(
        slug=f"haber-{n}",
        title=f"{city}'da {topic} projesinin {n}. etabı tamamlandı",
        date=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
        paragraphs=(
            f"{city} Belediyesi, {topic} projesinin {n}. etabını {n % 90 + 10} günde "
            f"tamamladığını açıkladı. Çalışmalara {n * 3 % 400 + 20} işçi katıldı.",
            f"Belediye başkanı, projenin toplam maliyetinin {n * 7 % 900 + 100} milyon lira "
            f"olduğunu ve {n % 5 + 2} mahalleye hizmet vereceğini söyledi.",
            f"Proje kapsamında {n % 40 + 5} kilometrelik hat yenilendi; kalan etapların "
            f"{2026 + n % 3} yılında bitirilmesi planlanıyor.",
        ),
    )


async def feed_round(
    feeds: int, items: int, spread: bool, model: str | None, folder: Path
) -> dict[str, float]:
    addresses = [f"127.0.0.{i + 2}" if spread else "127.0.0.1" for i in range(feeds)]
    sites = [NewsSite(address=address) for address in dict.fromkeys(addresses)]
    for site in sites:
        await site.__aenter__()
    try:
        by_address = {site.address: site for site in sites}
        urls = []
        for f in range(feeds):
            site = by_address[addresses[f]]
            pages = [story(f * items + i) for i in range(items)]
            site.extra_pages.update({page.slug: page for page in pages})
            site.feeds[f"akis-{f}"] = [f"/haber/{page.slug}" for page in pages]
            urls.append(site.url(f"/rss/akis-{f}"))
        corpus = folder / "corpus"
        corpus.mkdir()
        config = IngestConfig(corpus_dir=corpus, data_dir=folder / "data", feed_urls=tuple(urls))
        async with await IngestState.open(config.state_path) as state:
            report: RoundReport = await Ingestor(config, state).run_round()
        engine_config = EngineConfig(corpus_dir=corpus, data_dir=folder / "index", model=model)
        async with await Engine.open(engine_config) as engine:
            update = await engine.update_files(report.paths)
    finally:
        for site in sites:
            await site.__aexit__(None, None, None)
    new = sum(feed.new for feed in report.feeds)
    failed = sum(len(feed.skipped) for feed in report.feeds) + len(report.unreadable)
    return {
        "round_s": report.seconds,
        "new": new,
        "failed": failed,
        "pages_per_s": new / report.seconds,
        "index_s": update.seconds,
        "passages": update.passages,
    }


class _Counting(AutoIndexer):
    """An indexer that only counts: at rest, nothing should reach it."""

    def __init__(self) -> None:
        self.calls = 0
        self.last = None

    async def apply(self, paths, origin):  # type: ignore[no-untyped-def, override]
        self.calls += 1

    async def reconcile(self, origin):  # type: ignore[no-untyped-def, override]
        self.calls += 1


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def idle_cpu(files: int, idle: float, folder: Path) -> dict[str, float]:
    corpus = folder / "big"
    for i in range(files):
        sub = corpus / f"klasor-{i // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"haber-{i}.md").write_text(
            f"---\ntitle: Haber {i}\n---\n\nBelediye meclisi {i}. toplantısını yaptı.\n",
            encoding="utf-8",
        )
    before = _cpu()
    await asyncio.sleep(idle)
    baseline = _cpu() - before
    indexer = _Counting()
    watcher = CorpusWatcher(corpus, indexer)
    started = time.perf_counter()
    await watcher.start()
    setup = time.perf_counter() - started
    await asyncio.sleep(1)  # let start-up settle
    before = _cpu()
    await asyncio.sleep(idle)
    watching = _cpu() - before
    await watcher.stop()
    return {
        "files": files,
        "folders": files // 100,
        "watch_setup_s": setup,
        "idle_s": idle,
        "cpu_s_no_watcher": baseline,
        "cpu_s_watching": watching,
        "cpu_percent_watching": 100 * watching / idle,
        "updates_at_rest": indexer.calls,
    }


async def drop_delay(model: str | None, folder: Path, drops: int = 5) -> list[float]:
    corpus = folder / "seed"
    corpus.mkdir()
    for path in (ROOT / "corpus").iterdir():
        if path.is_file():
            (corpus / path.name).write_bytes(path.read_bytes())
    config = EngineConfig(corpus_dir=corpus, data_dir=folder / "seed-index", model=model)
    delays = []
    async with await Engine.open(config) as engine:
        await engine.update()
        watcher = CorpusWatcher(corpus, AutoIndexer(engine))
        await watcher.start()
        try:
            for n in range(drops):
                marker = f"Zeytinburnu{n}"
                text = (
                    f"---\ntitle: {marker} sahilinde temizlik\n---\n\n{marker} sahilinde "
                    f"gönüllüler {n + 3} ton çöp topladı. Etkinliğe {n + 50} kişi katıldı.\n"
                )
                started = time.perf_counter()
                (corpus / f"damla-{n}.md").write_text(text, encoding="utf-8")
                while True:
                    answer = await engine.ask(f"{marker} sahilinde kaç ton çöp toplandı?")
                    if answer.answered and marker in answer.passages[0].text:
                        break
                    if time.perf_counter() - started > 60:
                        raise RuntimeError("a dropped file was not answered in 60 s")
                    await asyncio.sleep(0.05)
                delays.append(time.perf_counter() - started)
        finally:
            await watcher.stop()
    return delays


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="'none' for lexical only")
    args = parser.parse_args()
    model = None if args.model.lower() == "none" else args.model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for spread in (False, True):
            sub = folder / f"round-{spread}"
            sub.mkdir()
            result = await feed_round(args.feeds, args.items, spread, model, sub)
            hosts = args.feeds if spread else 1
            print(f"(a) round, {args.feeds} feeds x {args.items} items on {hosts} host(s):")
            print("   ", "  ".join(f"{k} {v:.2f}" for k, v in result.items()))
        idle = await idle_cpu(args.files, args.idle, folder)
        print(f"(b) watcher at rest: {'  '.join(f'{k} {v:.3f}' for k, v in idle.items())}")
        delays = await drop_delay(model, folder)
        print(
            f"(c) dropped file answered after (model {args.model}): "
            + ", ".join(f"{d:.2f} s" for d in delays)
        )


if __name__ == "__main__":
    asyncio.run(main())
