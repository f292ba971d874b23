"""Re-measure the lexical analyzer choices on XQuAD-tr (nDCG@10, lexical only, offline).

    python benchmarks/ablation_analyzer.py

Each variant swaps `embeddings.text.terms` for the whole run (index and questions), so the
only difference between rows is the analyzer. "ascii questions" asks the same questions with
Turkish letters folded away, as typed on a keyboard without them.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import embeddings.engine
import embeddings.text as text
from embeddings.config import EngineConfig
from embeddings.corpus import LoadResult
from embeddings.engine import Engine
from embeddings.evaluate import Question, evaluate, load_squad

XQUAD = Path(__file__).resolve().parent / "xquad" / "xquad.tr.json"


def analyzer(stems: bool, prefixes: bool, folded: bool = True) -> Callable[[str], list[str]]:
    fold = text.fold if folded else (lambda s: s)

    def terms(source: str) -> list[str]:
        out = []
        for word in text.words(source):
            if text.fold(word) in text._STOP_FOLDED:
                continue
            if stems:
                out.append(
                    word if word.isdigit() else text._alnum(fold(text._stemmer.stemWord(word)))
                )
            if prefixes and not word.isdigit():
                out.append(text.PREFIX_MARK + text._alnum(fold(word))[: text.PREFIX_LETTERS])
        return out

    return terms


VARIANTS = {
    "Snowball stems only": analyzer(stems=True, prefixes=False),
    "5-letter prefixes only": analyzer(stems=False, prefixes=True),
    "stems + prefixes (shipped)": analyzer(stems=True, prefixes=True),
    "stems + prefixes, diacritics kept": analyzer(stems=True, prefixes=True, folded=False),
}


async def measure(terms: Callable[[str], list[str]]) -> tuple[float, float]:
    embeddings.engine.terms = terms  # the engine imported it by name
    articles, questions = load_squad(XQUAD)
    ascii_questions = [Question(text.fold(q.text), q.article_id) for q in questions]
    with tempfile.TemporaryDirectory() as tmp:
        async with await Engine.open(EngineConfig(data_dir=Path(tmp), model=None)) as engine:
            await engine.apply(LoadResult(articles))
            proper = (await evaluate(engine, questions))["lexical"]["ndcg@10"]
            typed = (await evaluate(engine, ascii_questions))["lexical"]["ndcg@10"]
    return proper, typed


async def main() -> None:
    print(f"{'analyzer':36s} {'nDCG@10':>8s} {'ascii questions':>16s}")
    for name, terms in VARIANTS.items():
        proper, typed = await measure(terms)
        print(f"{name:36s} {proper:8.4f} {typed:16.4f}")


if __name__ == "__main__":
    asyncio.run(main())
