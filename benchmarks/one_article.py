"""One article added, removed, added again, changed and removed in a serving process, on an
index already built (e.g. by `qabot bench`): seconds from `update_files` to an answer that
quotes it.

    python benchmarks/one_article.py --data DATA_DIR --corpus CORPUS_DIR [--model none]

Writes and finally removes `bench-update/one-article.md` in the corpus folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.config import DEFAULT_MODEL, EngineConfig  # noqa: E402
from embeddings.engine import Engine  # noqa: E402

QUESTION = "Zeytinburnu'ndaki hangi kütüphane yeniden açıldı?"
TEXT = (
    "---\ntitle: Bench güncelleme haberi\ndate: 2026-12-01\n---\n"
    "Zeytinburnu'ndaki {word} kütüphanesi dün yeniden açıldı. "
    "Açılışa belediye başkanı ve öğrenciler katıldı.\n"
)
STEPS = (("add", "Akasya"), ("remove", None), ("add again", "Akasya"), ("change", "Ihlamur"))


async def main(data: Path, corpus: Path, model: str | None) -> None:
    config = EngineConfig(corpus_dir=corpus, data_dir=data, model=model)
    began = time.perf_counter()
    async with await Engine.open(config) as engine:
        print(f"opened in {time.perf_counter() - began:.1f} s", flush=True)
        path = corpus / "bench-update" / "one-article.md"
        path.parent.mkdir(exist_ok=True)
        for step, word in (*STEPS, ("remove", None)):
            if word is None:
                path.unlink()
            else:
                path.write_text(TEXT.format(word=word), encoding="utf-8")
            start = time.perf_counter()
            report = await engine.update_files([path])
            updated = time.perf_counter()
            answer = await engine.ask(QUESTION, k=1)
            done = time.perf_counter()
            quoted = bool(answer.passages) and (word or "Akasya") in answer.passages[0].text
            print(
                f"{step}: update {updated - start:.3f} s + ask {done - updated:.3f} s"
                f" = {done - start:.3f} s; encoded {report.embedded}; quoted {quoted}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="'none' for lexical only")
    args = parser.parse_args()
    model = None if args.model.lower() == "none" else args.model
    asyncio.run(main(args.data, args.corpus, model))
