"""`qabot eval` and `qabot calibrate`: the retrieval benchmark on a SQuAD-format file.

Both index the file's paragraphs as articles (in a temporary folder unless `--data` keeps
it, with its embedding cache, for the next run), then ask its questions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from bot.progress import progress_printer
from bot.settings import Settings
from embeddings.corpus import Article, LoadResult
from embeddings.engine import PROFILES_NAME, Engine
from embeddings.evaluate import SPLITS, evaluate, holdout, in_split, load_squad

XQUAD_TR = Path("benchmarks/xquad/xquad.tr.json")
XQUAD_EN = Path("benchmarks/xquad/xquad.en.json")
KEYS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def add_arguments(eval_parser: argparse.ArgumentParser, calibrate: argparse.ArgumentParser) -> None:
    eval_parser.add_argument(
        "--squad", type=Path, required=True, help="SQuAD-format file: paragraphs + questions"
    )
    eval_parser.add_argument(
        "--questions", type=Path, help="parallel SQuAD file to take the questions from"
    )
    eval_parser.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="questions of every document, or of the tuning (even) or test (odd) half",
    )
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")
    eval_parser.add_argument(
        "--answerability",
        action="store_true",
        help="also report how often 'answered' is true with the source article indexed "
        "and with it held out (adds an 'answerability' key to the JSON)",
    )
    eval_parser.add_argument(
        "--holdout",
        action="store_true",
        help="also ask the questions as served with their whole document removed from the "
        "index, re-indexed without it, 8 documents at a time (adds a 'holdout' key)",
    )
    calibrate.add_argument(
        "--squad", type=Path, default=XQUAD_TR, help=f"paragraphs + questions (default {XQUAD_TR})"
    )
    calibrate.add_argument(
        "--questions",
        type=Path,
        nargs="*",
        default=[XQUAD_EN],
        help=f"parallel files with questions in other languages (default {XQUAD_EN})",
    )
    calibrate.add_argument(
        "--output", type=Path, help=f"profiles file to write (default: DATA_DIR/{PROFILES_NAME})"
    )


@contextlib.asynccontextmanager
async def squad_engine(
    settings: Settings, data: Path | None, articles: list[Article]
) -> AsyncIterator[Engine]:
    """An engine holding the benchmark's paragraphs, in `data` or a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="qabot-eval-") as tmp:
        config = replace(settings.engine_config(), data_dir=data or Path(tmp))
        async with await Engine.open(config) as engine:
            await engine.apply(LoadResult(articles), progress=progress_printer())
            yield engine


async def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    articles, questions = load_squad(args.squad, args.questions)
    questions = [q for q in questions if in_split(q, args.split)]
    async with squad_engine(settings, args.data, articles) as engine:
        result = await evaluate(engine, questions, answerability=args.answerability)
        if args.holdout:
            sets = {(args.questions or args.squad).name: questions}
            found = await holdout(engine, articles, sets, split=args.split)
            result["holdout"] = found[(args.questions or args.squad).name]
    if args.json:
        print(json.dumps(result))
        return 0
    source = f" (questions from {args.questions.name})" if args.questions else ""
    split = "" if args.split == "all" else f", {args.split} half"
    print(
        f"{args.squad.name}: {len(articles)} paragraphs, {len(questions)} questions{split}{source}"
    )
    print_table(result)
    return 0


async def cmd_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    from embeddings.calibrate import calibrate
    from embeddings.encoders.profiles import save_profile

    articles, questions = load_squad(args.squad)
    sets = {args.squad.name: questions}
    for path in args.questions:
        sets[path.name] = load_squad(args.squad, path)[1]
    output = args.output or (args.data or settings.data_dir) / PROFILES_NAME
    async with squad_engine(settings, args.data, articles) as engine:
        model = engine.encoder.description if engine.encoder else "none (lexical only)"
        print(f"calibrating {model} on the tuning half of {', '.join(sets)}", file=sys.stderr)
        profile = await calibrate(engine, list(sets.values()))
        profile = replace(
            profile, measured=f"qabot calibrate on the tuning half of {', '.join(sets)}"
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        save_profile(output, engine.encoder.key if engine.encoder else None, profile)
        print(f"profile written to {output}:\n{json.dumps(profile.to_dict(), indent=2)}")
        engine.use_profile(profile)
        held = await holdout(engine, articles, sets, split="test")
        for name, qs in sets.items():
            test = [q for q in qs if in_split(q, "test")]
            print(f"\n{name}, test half ({len(test)} questions, not used for tuning):")
            print_table({**await evaluate(engine, test, answerability=True), "holdout": held[name]})
    return 0


def print_table(result: dict) -> None:
    print(f"{'ranking':10s}" + "".join(f"{k:>11s}" for k in KEYS))
    for name in ("lexical", "dense", "fused"):
        values = result[name]
        row = "".join(f"{values[k]:>11.4f}" for k in KEYS) if values else "   (no model)"
        print(f"{name:10s}{row}")
    if rates := result.get("answerability"):
        print(
            f"answered: {rates['answered_in_corpus']:.1%} of questions with their article indexed,"
            f" {rates['answered_held_out']:.1%} with it held out"
        )
    if rates := result.get("holdout"):
        print(
            f"as served: {rates['answered_in_corpus']:.1%} answered with every document indexed"
            f" ({rates['answered_right_in_corpus']:.1%} from the right paragraph),"
            f" {rates['answered_held_out']:.1%} with their document removed and re-indexed"
            f" ({rates['documents']} documents in {rates['folds']} folds)"
        )
