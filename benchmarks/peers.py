"""Lexical indexing side by side: qabot, txtai's keyword index and bm25s, on the same
passages, each in a fresh process (wall time with imports, and peak memory); then one
new document made searchable in each, in process.

    python benchmarks/peers.py --passages 128000 [--work /tmp/peers] [--out results.json]

The corpus is `qabot bench`'s synthetic one (real Turkish sentences, deterministic). qabot
indexes the corpus folder as `qabot index --model none` does: reading and splitting the
files, Turkish analysis, SQLite FTS5 and the served BM25 segment. txtai and bm25s are given
qabot's passages already split, so their figures leave out reading and splitting.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import multiprocessing
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

NEW_TEXT = "Zeytinburnu'ndaki Akasya kütüphanesi dün yeniden açıldı."
NEW_QUERY = "Akasya kütüphanesi"


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _passages(corpus: Path) -> list[str]:
    from embeddings.corpus import load_corpus
    from embeddings.splitter import split_article

    return [p.ranking_text for a in load_corpus(corpus).articles for p in split_article(a)]


def run_qabot(corpus: Path, data: Path, began: float) -> dict[str, Any]:
    from embeddings.config import EngineConfig
    from embeddings.engine import Engine

    async def go() -> dict[str, Any]:
        config = EngineConfig(corpus_dir=corpus, data_dir=data, model=None)
        async with await Engine.open(config) as engine:
            report = await engine.update()
            built = time.perf_counter() - began
            new = corpus / "peers-new.md"
            upserts = []
            for _ in range(2):  # right after the build (its WAL being checkpointed), then after
                new.write_text(f"---\ntitle: Yeni\n---\n{NEW_TEXT}\n", encoding="utf-8")
                start = time.perf_counter()
                await engine.update_files([new])
                found = await engine.ask(NEW_QUERY, k=1)
                upserts.append(time.perf_counter() - start)
                assert "Akasya" in found.passages[0].text
                new.unlink()
                await engine.update_files([new])
                await engine.wait_for_checkpoints()
        return {
            "passages": report.passages,
            "wall_s": built,
            "upsert_and_find_s": upserts[0],
            "upsert_and_find_again_s": round(upserts[1], 4),
        }

    return asyncio.run(go())


def run_txtai(texts: list[str], began: float) -> dict[str, Any]:
    from txtai import Embeddings

    embeddings = Embeddings(keyword=True)
    embeddings.index((str(i), text, None) for i, text in enumerate(texts))
    built = time.perf_counter() - began
    start = time.perf_counter()
    embeddings.upsert([("new", NEW_TEXT, None)])
    found = embeddings.search(NEW_QUERY, 1)
    upsert = time.perf_counter() - start
    assert found and found[0][0] == "new"
    return {"passages": len(texts), "wall_s": built, "upsert_and_find_s": upsert}


def run_bm25s(texts: list[str], began: float) -> dict[str, Any]:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    return {"passages": len(texts), "wall_s": time.perf_counter() - began, "upsert": "none"}


def child(name: str, corpus: str, work: str) -> dict[str, Any]:
    """One system's build in this fresh process, from its own import on."""
    began = time.perf_counter()
    if name == "qabot":
        result = run_qabot(Path(corpus), Path(work) / "qabot", began)
    else:
        texts = json.loads((Path(work) / "passages.json").read_text(encoding="utf-8"))
        began = time.perf_counter()  # loading the shared passages is not theirs to pay
        result = (run_txtai if name == "txtai" else run_bm25s)(texts, began)
    result["peak_rss_MiB"] = _peak_mib()
    result["wall_s"] = round(result["wall_s"], 2)
    if isinstance(result.get("upsert_and_find_s"), float):
        result["upsert_and_find_s"] = round(result["upsert_and_find_s"], 4)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=128_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qabot-peers"))
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of all three")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import bench

    corpus = args.work / "corpus"
    if not corpus.is_dir():
        bench.write_corpus(corpus, args.passages)
    texts = _passages(corpus)
    (args.work / "passages.json").write_text(json.dumps(texts, ensure_ascii=False))
    context = multiprocessing.get_context("spawn")
    runs: dict[str, list[dict[str, Any]]] = {"qabot": [], "txtai": [], "bm25s": []}
    for _ in range(args.rounds):
        for name in runs:
            shutil.rmtree(args.work / "qabot", ignore_errors=True)
            with ProcessPoolExecutor(1, mp_context=context) as one:
                found = one.submit(child, name, str(corpus), str(args.work)).result()
            print(json.dumps({name: found}), flush=True)
            runs[name].append(found)
    report = {
        "passages": len(texts),
        "cores": os.cpu_count(),
        "load_average_end": os.getloadavg(),
        "versions": {p: importlib.metadata.version(p) for p in ("txtai", "bm25s")},
        "runs": runs,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
