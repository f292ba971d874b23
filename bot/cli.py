"""`qabot` command line: index, ask, chat, eval, bench, run.

Machine-readable output (`--json`) goes to stdout alone; logs and progress go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import textwrap
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings
from embeddings.answer import Answer
from embeddings.engine import Engine, IndexUpdateError, UpdateReport

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
    except SettingsError as err:
        print(f"qabot: {err}", file=sys.stderr)
        return 2
    if args.command == "run":
        from bot.app import run

        return run(settings)
    try:
        return asyncio.run(args.handler(settings, args))
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
        "(default: $EMBEDDING_MODEL or intfloat/multilingual-e5-small)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")

    parser = argparse.ArgumentParser(prog="qabot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="build or update the index")
    p.set_defaults(handler=cmd_index)

    p = sub.add_parser("ask", parents=[common], help="answer questions from the index")
    p.add_argument("questions", nargs="+", metavar="QUESTION", help="question(s); '-' reads stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument("-k", type=int, default=5, help="passages per answer (default 5)")
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="interactive question session")
    p.add_argument("-k", type=int, default=3, help="passages per answer (default 3)")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("eval", parents=[common], help="passage-retrieval evaluation (SQuAD format)")
    p.add_argument(
        "--squad", type=Path, required=True, help="SQuAD-format file: paragraphs + questions"
    )
    p.add_argument("--questions", type=Path, help="parallel SQuAD file to take the questions from")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--answerability",
        action="store_true",
        help="also report how often 'answered' is true with the source article indexed "
        "and with it held out (adds an 'answerability' key to the JSON)",
    )
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("bench", parents=[common], help="latency, throughput and memory benchmark")
    p.add_argument("--sizes", default="10000,100000", help="corpus sizes in passages")
    p.add_argument("--queries", type=int, default=200, help="questions timed per size")
    p.add_argument(
        "--encode-limit",
        type=int,
        default=5000,
        help="passages per size the model encodes (default 5000; 0: all); the rest get "
        "stand-in vectors (real ones plus noise), reported in the output",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_bench)

    sub.add_parser("run", parents=[common], help="start the Telegram bot")
    return parser


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    changes: dict = {}
    if args.corpus:
        changes["corpus_dir"] = args.corpus
    if args.data:
        changes["data_dir"] = args.data
    if args.model:
        changes["embedding_model"] = None if args.model.lower() in ("none", "off") else args.model
    return replace(settings, **changes)


async def _open_built(settings: Settings) -> Engine:
    """The engine, with the index built first if it has never been."""
    engine = await Engine.open(settings.engine_config())
    if not await engine.is_built():
        print_report(await engine.update(), file=sys.stderr)
    return engine


async def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    async with await Engine.open(settings.engine_config()) as engine:
        print_report(await engine.update())
    return 0


async def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    questions: Iterable[str] = args.questions
    if args.questions == ["-"]:
        questions = (line.strip() for line in sys.stdin)
    async with await _open_built(settings) as engine:
        for question in questions:
            if not question.strip():
                continue
            answer = await engine.ask(question, k=args.k)
            if args.json:
                print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(format_answer(answer), flush=True)
    return 0


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open_built(settings) as engine:
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


async def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from embeddings.corpus import LoadResult
    from embeddings.evaluate import evaluate, load_squad

    articles, questions = load_squad(args.squad, args.questions)
    with tempfile.TemporaryDirectory(prefix="qabot-eval-") as tmp:
        config = replace(settings.engine_config(), data_dir=args.data or Path(tmp))
        async with await Engine.open(config) as engine:
            await engine.apply(LoadResult(articles))
            result = await evaluate(engine, questions, answerability=args.answerability)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{args.squad.name}: {len(articles)} paragraphs, {len(questions)} questions"
        + (f" (questions from {args.questions.name})" if args.questions else "")
    )
    keys = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
    print(f"{'ranking':10s}" + "".join(f"{k:>11s}" for k in keys))
    for name in ("lexical", "dense", "fused"):
        values = result[name]
        row = "".join(f"{values[k]:>11.4f}" for k in keys) if values else "   (no model)"
        print(f"{name:10s}{row}")
    if "answerability" in result:
        rates = result["answerability"]
        print(
            f"answered: {rates['answered_in_corpus']:.1%} of questions with their article indexed,"
            f" {rates['answered_held_out']:.1%} with it held out"
        )
    return 0


async def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from embeddings.bench import run_benchmark

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    result = await run_benchmark(
        settings.engine_config(), sizes, queries=args.queries, encode_limit=args.encode_limit
    )
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


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
    if not answer.answered:
        lines.append(
            "Not found in the corpus." if answer.language == "en" else "Derlemde bulunamadı."
        )
        if answer.passages:
            lines.append("Closest passages (possibly related):")
    for n, hit in enumerate(answer.passages, start=1):
        meta = " · ".join(x for x in (hit.date, hit.source_url) if x)
        lines.append(f"\n[{n}] {hit.title}" + (f"\n    {meta}" if meta else ""))
        lines.append(textwrap.indent(textwrap.fill(f"» {hit.highlight}", 100), "    "))
        rest = hit.text.replace(hit.highlight, "…").strip()
        if rest and rest != "…":
            lines.append(textwrap.indent(textwrap.fill(rest, 100), "    "))
    lines.append(f"\n({answer.latency_ms:.0f} ms)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
