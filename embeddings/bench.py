"""`qabot bench`: retrieval latency, index build throughput, re-index time and peak memory.

The corpus is synthetic but made of real Turkish: articles recombine sentences of the XQuAD
Turkish paragraphs and the seed articles, deterministically, so a kept work folder
(`<data_dir>/bench`) hits the embedding cache on the next run. Each corpus size is built,
then served, in a fresh spawned process, so that peak resident memory belongs to one size
and one phase only.
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

from embeddings import store
from embeddings.config import EngineConfig
from embeddings.corpus import Article, load_corpus
from embeddings.encoder import Encoder, load_encoder
from embeddings.engine import DB_NAME, Engine, UpdateReport
from embeddings.evaluate import load_squad
from embeddings.splitter import split_article, split_sentences
from embeddings.vectors import VectorIndex

REPO = Path(__file__).resolve().parents[1]
XQUAD_TR = REPO / "benchmarks" / "xquad" / "xquad.tr.json"
SEED_CORPUS = REPO / "corpus"  # the repository's seed articles, not the configured corpus
SEED = 20240611
ARTICLES_PER_FILE = 1000
WARMUP_QUESTIONS = 20
STAND_IN_RECORD = "stand-in-ids.txt"  # passage ids whose cached vectors are stand-ins
ENCODE_SAMPLE = 2000  # passages encoded to measure throughput when the cache has them all
TOP_K = 5
ENCODE_CHUNK = 512  # passages encoded and committed to the embedding cache at a time
PROGRESS_EVERY = 5000  # passages encoded between progress lines

Summary = dict[str, float]


async def run_benchmark(
    config: EngineConfig, sizes: list[int], queries: int, encode_limit: int = 0
) -> dict[str, Any]:
    """Build and serve each size in its own child process; one JSON-ready dict of results."""
    started = time.perf_counter()
    work = config.data_dir / "bench"
    result: dict[str, Any] = {
        "machine": _machine(),
        "model": config.model,
        "commit": _commit(),
        "source_digest_start": _source_digest(),
        "work_dir": str(work),
        "sizes": {},
    }
    for size in sizes:
        folder = work / str(size)
        built = await _in_child(build_size, config, size, folder, encode_limit)
        served = await _in_child(serve_size, config, size, folder, queries)
        entry = {**built, **served}
        entry["targets_met"] = _targets(entry)
        result["sizes"][str(size)] = entry
    result["machine"]["load_average_end"] = _load_average()
    result["source_digest_end"] = _source_digest()
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    return result


async def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `fn` in a fresh spawned process: ru_maxrss there is this phase's peak alone."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


def _targets(entry: dict[str, Any]) -> dict[str, bool | None]:
    """The issue's targets (stated at 100k passages, re-index at 10k), checked at every size."""
    latency = entry["latency_ms"]
    with_encoding = latency["retrieve_with_query_encoding"]
    return {
        "retrieve_p50_le_20ms": latency["retrieve"]["p50"] <= 20,
        "retrieve_with_query_encoding_p50_le_40ms": (
            with_encoding["p50"] <= 40 if with_encoding else None
        ),
        "reindex_unchanged_le_2s": entry["reindex_unchanged"]["seconds"] <= 2,
    }


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


# ---- build phase (child process) ----------------------------------------------------------


def build_size(
    config: EngineConfig, size: int, folder: Path, encode_limit: int = 0
) -> dict[str, Any]:
    return asyncio.run(_build(config, size, folder, encode_limit))


async def _build(
    config: EngineConfig, size: int, folder: Path, encode_limit: int
) -> dict[str, Any]:
    corpus_dir = folder / "corpus"
    _progress(size, "writing the synthetic corpus")
    began = time.perf_counter()
    corpus = write_corpus(corpus_dir, size)
    corpus["generate_s"] = round(time.perf_counter() - began, 2)

    _progress(size, f"lexical index: {corpus['articles']:,} articles, from scratch")
    lexical_dir = folder / "lexical"
    shutil.rmtree(lexical_dir, ignore_errors=True)
    lexical_config = replace(config, model=None, data_dir=lexical_dir, corpus_dir=corpus_dir)
    async with await Engine.open(lexical_config, encoder=None) as engine:
        report = await engine.update()
        if report.passages != size:
            raise RuntimeError(f"corpus split into {report.passages} passages, expected {size}")
        build: dict[str, Any] = {"lexical": _rate(report.passages, report.seconds)}
        if config.model is None:  # no dense index: the re-index is the lexical engine's
            reindex = await engine.update()
    if config.model is not None:
        dense, reindex = await _build_dense(config, size, folder, encode_limit)
        build.update(dense)
    if reindex.embedded:
        raise RuntimeError(f"re-index of an unchanged corpus embedded {reindex.embedded} passages")
    _progress(size, f"re-index of the unchanged corpus: {reindex.seconds:.2f} s")
    return {
        "passages": size,
        "corpus": corpus,
        "index_build": build,
        "reindex_unchanged": {
            "seconds": round(reindex.seconds, 3),
            "embedded": reindex.embedded,
            "unchanged": reindex.unchanged,
        },
        "peak_rss_build_MiB": _peak_rss_mib(),
    }


async def _build_dense(
    config: EngineConfig, size: int, folder: Path, encode_limit: int
) -> tuple[dict[str, Any], UpdateReport]:
    """The kept dense index, brought up to date and re-indexed unchanged; encoding and the
    FAISS build timed on their own.

    With `encode_limit`, at most that many passages are encoded by the model (~16/s for
    all-MiniLM-L6-v2 on 2 cores: 100k passages would take close to two hours); the rest get
    stand-in vectors, real ones with noise added, reported as such. FAISS search time depends
    on the index's size and kind, not on which passage a vector came from.

    The engine embeds inside its one publishing transaction, so an interrupted first build
    (hours at 100k passages on 2 cores) would lose every vector. Passages are therefore
    inserted by a lexical-only pass first and the embedding cache filled here in committed
    chunks, with the engine's encoder and storage: a killed run resumes where it stopped.
    """
    encoder = _load(config)
    dense_config = replace(config, data_dir=folder / "index", corpus_dir=folder / "corpus")
    db = str(dense_config.data_dir / DB_NAME)
    async with await Engine.open(dense_config, encoder=None) as engine:
        await engine.update()
    conn = await store.connect(db)
    try:
        await _forget_stand_ins(conn, encoder.name, dense_config.data_dir / STAND_IN_RECORD)
        missing = await store.passages_without_embedding(conn, encoder.name)
        cached = size - len(missing)
        standing_in = missing[max(encode_limit - cached, 0) :] if encode_limit else []
        missing = missing[: len(missing) - len(standing_in)]
        _progress(
            size,
            f"embedding cache: {cached:,} cached, {len(missing):,} to encode, "
            f"{len(standing_in):,} stand-ins",
        )
        began = time.perf_counter()
        for start in range(0, len(missing), ENCODE_CHUNK):
            part = missing[start : start + ENCODE_CHUNK]
            vectors = encoder.encode_passages([text for _, text in part])
            await store.store_embeddings(conn, encoder.name, [pid for pid, _ in part], vectors)
            done = start + len(part)
            if done // PROGRESS_EVERY > start // PROGRESS_EVERY or done == len(missing):
                rate = done / (time.perf_counter() - began)
                _progress(size, f"encoded {done:,} of {len(missing):,} passages ({rate:.1f}/s)")
        fill_seconds = time.perf_counter() - began
        if standing_in:
            _, real = await store.all_embeddings(conn, encoder.name)
            vectors = _stand_ins(real, len(standing_in))
            await store.store_embeddings(
                conn, encoder.name, [pid for pid, _ in standing_in], vectors
            )
            record = dense_config.data_dir / STAND_IN_RECORD
            record.write_text("\n".join(pid for pid, _ in standing_in), encoding="utf-8")
        ids, stored = await store.all_embeddings(conn, encoder.name)
        async with conn.execute(
            "SELECT ranking_text FROM passages ORDER BY rowid LIMIT ?", (ENCODE_SAMPLE,)
        ) as cur:
            sample = [row[0] async for row in cur]
    finally:
        await conn.close()
    if len(missing) >= len(sample):
        encoding = {**_rate(len(missing), fill_seconds), "measured_on": "index build"}
    else:  # the cache had (nearly) everything: time real encoding on a sample
        _progress(size, f"encoding a fresh sample of {len(sample):,} passages")
        began = time.perf_counter()
        encoder.encode_passages(sample)
        encoding = {**_rate(len(sample), time.perf_counter() - began), "measured_on": "sample"}
    _progress(size, f"building a FAISS index over {len(ids):,} vectors")
    began = time.perf_counter()
    index = VectorIndex.build(stored, ids, hnsw_threshold=config.hnsw_threshold)
    faiss_build = {"kind": index.kind, **_rate(len(index), time.perf_counter() - began)}
    del index, stored
    _progress(size, "dense engine: opening, updating, re-indexing unchanged")
    async with await Engine.open(dense_config, encoder=encoder) as engine:
        await engine.update()
        reindex = await engine.update()
    return {
        "dense_encoding": encoding,
        "faiss": faiss_build,
        "embeddings_from_cache": cached,
        "embeddings_computed": len(missing),
        "embeddings_stand_in": len(standing_in),
    }, reindex


async def _forget_stand_ins(conn: Any, model: str, record: Path) -> None:
    """Stand-in vectors are cached under the model's name for the engine to use; drop the
    previous run's, so that they are never counted (or kept) as real embeddings."""
    if not record.exists():
        return
    ids = record.read_text(encoding="utf-8").split()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        await conn.execute(
            f"DELETE FROM embeddings WHERE model = ? AND passage_id IN ({marks})", (model, *part)
        )
    record.unlink()


def _stand_ins(real: np.ndarray, count: int) -> np.ndarray:
    """Unit vectors near randomly chosen real embeddings (cosine ≈ 0.9 to their source)."""
    rng = np.random.default_rng(SEED)
    base = real[rng.integers(0, len(real), count)]
    noisy = base + rng.normal(0.0, 0.5 / np.sqrt(real.shape[1]), base.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


# ---- serve phase (child process) ----------------------------------------------------------


def serve_size(config: EngineConfig, size: int, folder: Path, queries: int) -> dict[str, Any]:
    return asyncio.run(_serve(config, size, folder, queries))


async def _serve(config: EngineConfig, size: int, folder: Path, queries: int) -> dict[str, Any]:
    """Per-question latencies over XQuAD-tr questions, after a warm-up on other questions."""
    _, squad = load_squad(XQUAD_TR)
    questions = [q.text for q in squad]
    random.Random(SEED).shuffle(questions)
    questions = questions[: WARMUP_QUESTIONS + queries]
    warmup = range(min(WARMUP_QUESTIONS, len(questions)))
    timed = range(len(warmup), len(questions))
    lexical_config = replace(config, model=None, data_dir=folder / "lexical")
    latency: dict[str, Summary | None] = {}

    async def measure(name: str, call: Callable[[int], Any]) -> None:
        _progress(size, f"timing {name} over {len(timed)} questions")
        latency[name] = await _latencies(call, warmup, timed)

    if config.model is None:
        engine = await Engine.open(lexical_config, encoder=None)
        vectors = None
    else:
        encoder = _load(config)
        engine = await Engine.open(replace(config, data_dir=folder / "index"), encoder=encoder)
        vectors = encoder.encode_queries(questions)
    async with engine:
        depth = engine.fusion.depth
        if engine.snapshot.passages != size:
            raise RuntimeError(f"index holds {engine.snapshot.passages} passages, expected {size}")
        if vectors is None:
            await measure("retrieve", lambda i: engine.retrieve(questions[i], depth))
            latency["retrieve_with_query_encoding"] = latency["query_encoding"] = None
            latency["faiss_search"] = None
        else:
            index = engine.snapshot.vectors
            await measure(
                "retrieve",
                lambda i: engine.retrieve(questions[i], depth, query_vector=vectors[i]),
            )
            await measure(
                "retrieve_with_query_encoding", lambda i: engine.retrieve(questions[i], depth)
            )
            await measure("query_encoding", lambda i: encoder.encode_queries([questions[i]]))
            await measure("faiss_search", lambda i: index.search(vectors[i], depth))
        await measure("ask", lambda i: engine.ask(questions[i], k=TOP_K))
    peak = _peak_rss_mib()
    async with await Engine.open(lexical_config, encoder=None) as lexical:
        await measure("lexical_only_retrieve", lambda i: lexical.retrieve(questions[i], depth))
    fts5_config = replace(lexical_config, lexical_backend="fts5")
    async with await Engine.open(fts5_config, encoder=None) as fts5:  # the reference backend
        await measure("lexical_only_retrieve_fts5", lambda i: fts5.retrieve(questions[i], depth))
    return {
        "questions_timed": len(timed),
        "depth": depth,
        "vector_index": engine.snapshot.vectors.kind if engine.snapshot.vectors else None,
        "latency_ms": latency,
        "peak_rss_serving_MiB": peak,
    }


async def _latencies(call: Callable[[int], Any], warmup: range, timed: range) -> Summary:
    """p50/p95/mean in ms of `call(i)` (awaited when it returns an awaitable)."""

    async def once(i: int) -> None:
        result = call(i)
        if inspect.isawaitable(result):
            await result

    for i in warmup:
        await once(i)
    samples = []
    for i in timed:
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
        raise RuntimeError(f"embedding model {config.model!r} could not be loaded")
    return encoder


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


def _progress(size: int, message: str) -> None:
    print(f"[bench {size:,}] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


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
    """Hash of the engine's sources: each child imports them afresh, so a change between
    start and end means the sizes were not all measured on the same code."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "embeddings").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _machine() -> dict[str, Any]:
    versions = {}
    for package in ("faiss-cpu", "torch", "sentence-transformers"):
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
