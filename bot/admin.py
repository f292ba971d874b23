"""Admin handlers: /reload, /stats, /feeds and adding documents to the corpus; refusals for
others."""

from __future__ import annotations

import asyncio
import collections
import html
import logging
import re
import tempfile
import time
from pathlib import Path, PurePath

from telegram import Document, Message, Update

from bot.context import BotContext, Services
from bot.messaging import message_of, progress_message, reply, typing
from bot.render import pack
from bot.texts import Texts, texts_for
from embeddings.corpus import (
    SUPPORTED_SUFFIXES,
    Article,
    CorpusRootError,
    LoadResult,
    load_corpus,
    load_file,
)
from embeddings.engine import IndexUpdateError, MassDeletion, UpdateReport
from embeddings.ingest.autoindex import AutoUpdate
from embeddings.ingest.corpusfiles import write_atomically
from embeddings.ingest.service import IngestService
from embeddings.ingest.state import FeedRound

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "uploads"  # inside the corpus folder: uploads never replace curated files
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # the Bot API's getFile limit
MAX_LISTED = 10  # skipped files / titles named in a reply


async def reload_index(update: Update, context: BotContext) -> None:
    """Re-read the corpus folder; the old index answers questions until the new one is ready.
    An update that would remove most of the corpus (an emptied or unmounted folder) waits for
    `/reload confirm`."""
    message = message_of(update)
    t = texts_for(message.from_user)
    confirmed = [arg.lower() for arg in context.args or []] == ["confirm"]
    options = {"allow_mass_delete": True} if confirmed else {}
    try:
        async with progress_message(message, t.reloading) as progress:
            report = await context.services.engine.update(progress=progress, **options)
    except MassDeletion as err:
        log.warning("Reload by %s refused: %s", _user_id(message), err)
        text = t.reload_mass_deletion.format(removing=err.removing, total=err.total)
        await reply(message, [text])
        return
    except IndexUpdateError as err:
        await reply(message, [t.reload_failed.format(reason=html.escape(str(err)))])
        return
    log.info(
        "Reload by %s: %d articles (+%d ~%d -%d), %d passages, %d files skipped, %.1f s",
        _user_id(message),
        report.articles,
        report.added,
        report.changed,
        report.removed,
        report.passages,
        len(report.skipped),
        report.seconds,
    )
    await reply(message, pack(_describe_update(report, t)))


async def show_stats(update: Update, context: BotContext) -> None:
    message = message_of(update)
    t = texts_for(message.from_user)
    services = context.services
    stats = await services.engine.stats()
    usage = await services.storage.usage()
    median = usage.median_latency_ms
    text = t.stats.format(
        articles=stats.articles,
        passages=stats.passages,
        model=html.escape(stats.model) if stats.model else t.lexical_only,
        size=_size(stats.index_bytes),
        uptime=_duration(time.monotonic() - services.started),
        questions=usage.questions,
        answered=usage.answered,
        median="—" if median is None else f"{median:.0f} ms",
        up=usage.feedback_up,
        down=usage.feedback_down,
    )
    lines = [text]
    if ingest := _ingest(context):
        lines += ["", *_auto_update_lines(ingest, t)]
        if rounds := await ingest.feed_rounds():
            lines += ["", *_feed_lines(rounds, t)]
    await reply(message, pack(lines))


async def show_feeds(update: Update, context: BotContext) -> None:
    """The configured feeds and each one's last round."""
    message = message_of(update)
    t = texts_for(message.from_user)
    ingest = _ingest(context)
    if ingest is None or not ingest.config.feed_urls:
        await reply(message, [t.no_feeds])
        return
    rounds = await ingest.feed_rounds()
    interval = _duration(ingest.config.feed_interval)
    header = t.feeds_header.format(count=len(rounds), interval=interval)
    await reply(message, pack([header, *_feed_lines(rounds, t)]))


async def refuse_admin_command(update: Update, context: BotContext) -> None:
    message = message_of(update)
    log.warning(
        "Refused %s from user %s in chat %s: not an admin",
        (message.text or "").split(maxsplit=1)[0],
        _user_id(message),
        message.chat.id,
    )
    await reply(message, [texts_for(message.from_user).admin_only])


async def refuse_document(update: Update, context: BotContext) -> None:
    message = message_of(update)
    log.warning("Refused a document upload from user %s: not an admin", _user_id(message))
    await reply(message, [texts_for(message.from_user).upload_admin_only])


async def add_document(update: Update, context: BotContext) -> None:
    """An admin's .txt/.md/.jsonl: validated, saved under corpus/uploads/, indexed."""
    message = message_of(update)
    document = message.document
    assert document is not None
    t = texts_for(message.from_user)
    services = context.services
    name = _safe_name(document.file_name or "document")
    if refusal := _unacceptable(document, name, t):
        await reply(message, [refusal])
        return
    log.info("User %s uploads %s", _user_id(message), name)
    rel = f"{UPLOAD_FOLDER}/{name}"
    async with typing(message):
        content = bytes(await (await document.get_file()).download_as_bytearray())
        articles, refusal_lines = await _check_upload(services, content, name, rel, t)
    if refusal_lines:
        await reply(message, pack(refusal_lines))
        return
    await asyncio.to_thread(write_atomically, services.settings.corpus_dir / rel, content)
    log.info("Saved %s into the corpus; indexing it", rel)
    try:
        heading = t.indexing_upload.format(name=html.escape(rel))
        async with progress_message(message, heading) as progress:
            report = await services.engine.update(progress=progress)
    except IndexUpdateError as err:
        reason = html.escape(str(err))
        await reply(message, [t.upload_index_failed.format(name=html.escape(rel), reason=reason)])
        return
    await reply(message, pack(_describe_upload(rel, articles, report, t)))


def _unacceptable(document: Document, name: str, t: Texts) -> str | None:
    """Why the upload is refused before it is even downloaded (type, size)."""
    if PurePath(name).suffix not in SUPPORTED_SUFFIXES:
        return t.upload_unsupported.format(name=html.escape(name))
    size = document.file_size or 0
    if size > MAX_DOWNLOAD_BYTES:
        return t.upload_too_large.format(
            name=html.escape(name), size=_size(size), limit=_size(MAX_DOWNLOAD_BYTES)
        )
    return None


async def _check_upload(
    services: Services, content: bytes, name: str, rel: str, t: Texts
) -> tuple[list[Article], list[str]]:
    """The upload's articles, or the reply lines saying why it is not added."""
    corpus_dir = services.settings.corpus_dir
    loaded = await asyncio.to_thread(_load_upload, content, name, rel)
    if loaded.skipped or not loaded.articles:
        reasons = [str(skipped) for skipped in loaded.skipped]
        return [], [t.upload_refused.format(name=html.escape(name)), *_bullets(reasons)]
    try:
        clashes = await asyncio.to_thread(_clashing_ids, loaded.articles, rel, corpus_dir)
    except CorpusRootError as err:  # the corpus folder is gone: nowhere to add it
        return [], [
            t.upload_index_failed.format(name=html.escape(rel), reason=html.escape(str(err)))
        ]
    if clashes:
        return [], [t.upload_duplicate_ids.format(name=html.escape(name)), *_bullets(clashes)]
    target = corpus_dir / rel
    if target.is_file() and target.read_bytes() == content:
        return [], [t.upload_same.format(name=html.escape(rel))]
    return loaded.articles, []


def _load_upload(content: bytes, name: str, rel: str) -> LoadResult:
    """Parse the upload exactly as a corpus load will, before it goes into the corpus."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return load_file(path, rel)


def _clashing_ids(articles: list[Article], rel: str, corpus_dir: Path) -> list[str]:
    """Article ids that would be duplicates: twice in the upload, or already in another file
    (a corpus load keeps only one of them, so the upload would silently lose articles)."""
    counts = collections.Counter(article.id for article in articles)
    clashes = [f"{article_id} (×{n})" for article_id, n in counts.items() if n > 1]
    existing = {
        article.id: article.source_file
        for article in load_corpus(corpus_dir).articles
        if article.source_file != rel
    }
    clashes += [f"{a.id} ({existing[a.id]})" for a in articles if a.id in existing]
    return clashes


def _describe_upload(
    rel: str, articles: list[Article], report: UpdateReport, t: Texts
) -> list[str]:
    header = t.upload_added.format(
        name=html.escape(rel),
        seconds=f"{report.seconds:.1f}",
        count=len(articles),
        added=report.added,
        changed=report.changed,
        articles=report.articles,
        passages=report.passages,
    )
    return [header, *_bullets([article.title for article in articles])]


def _describe_update(report: UpdateReport, t: Texts) -> list[str]:
    seconds = f"{report.seconds:.1f}"
    if report.unchanged:
        lines = [
            t.reload_unchanged.format(
                seconds=seconds, articles=report.articles, passages=report.passages
            )
        ]
    else:
        lines = [
            t.reload_done.format(
                seconds=seconds,
                articles=report.articles,
                added=report.added,
                changed=report.changed,
                removed=report.removed,
                passages=report.passages,
                passages_added=report.passages_added,
                passages_removed=report.passages_removed,
            )
        ]
    if report.kept:
        lines.append(t.kept_articles.format(count=report.kept))
    if report.skipped:
        lines += ["", t.skipped_header.format(count=len(report.skipped))]
        lines += _bullets([str(s) for s in report.skipped])
    return lines


def _ingest(context: BotContext) -> IngestService | None:
    """The watcher and feeds of the running bot (absent when it was built without them)."""
    return context.bot_data.get("ingest")


def _auto_update_lines(ingest: IngestService, t: Texts) -> list[str]:
    last: AutoUpdate | None = ingest.indexer.last
    if last is None:
        return [t.auto_none_yet if ingest.watching else t.watching_off]
    when = _clock(last.at)
    origin = t.origin_watch if last.origin == "watch" else t.origin_feeds
    if last.refused is not None:
        refused = last.refused
        return [
            t.auto_update_refused.format(
                when=when, origin=origin, removing=refused.removing, total=refused.total
            )
        ]
    if last.report is None:
        reason = html.escape(last.error or "")
        return [t.auto_update_failed.format(when=when, origin=origin, reason=reason)]
    report = last.report
    line = t.auto_update.format(
        when=when,
        origin=origin,
        added=report.added,
        changed=report.changed,
        removed=report.removed,
        skipped=len(report.skipped),
    )
    return [line, *_bullets([str(skipped) for skipped in report.skipped])]


def _feed_lines(rounds: list[FeedRound], t: Texts) -> list[str]:
    """One entry per feed; everything from the web is escaped."""
    lines = []
    for feed in rounds:
        name = html.escape(feed.feed)
        if feed.at is None:
            lines.append(t.feed_never_read.format(feed=name))
            continue
        counts = {"new": feed.new, "known": feed.known, "skipped": feed.skipped}
        if feed.error:
            error = html.escape(feed.error)
            lines.append(
                t.feed_round_failed.format(feed=name, when=_clock(feed.at), error=error, **counts)
            )
        else:
            lines.append(t.feed_round.format(feed=name, when=_clock(feed.at), **counts))
    return lines


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _bullets(items: list[str]) -> list[str]:
    lines = [f"• {html.escape(item)}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"… +{len(items) - MAX_LISTED}")
    return lines


def _safe_name(file_name: str) -> str:
    """A plain file name: no folders, no leading dot, only word characters, '.', '-'."""
    path = PurePath(file_name.replace("\\", "/")).name
    stem, suffix = PurePath(path).stem, PurePath(path).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")[:80] or "document"
    return stem + suffix


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    clock = f"{hours:02}:{minutes:02}:{secs:02}"
    return f"{days}d {clock}" if days else clock


def _user_id(message: Message) -> int | None:
    return message.from_user.id if message.from_user else None
