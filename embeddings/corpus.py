"""Reading a folder of articles (.txt, .md with front matter, .jsonl) into `Article`s.

A load never raises for bad input: each unreadable file (or bad JSONL line) becomes a
`Skipped` entry with the reason, and the rest of the corpus still loads. Only a corpus folder
that cannot be listed at all raises (`CorpusRootError`): read as "no articles", it would
remove the whole index.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from embeddings.parallel import map_chunks

SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl")
MAX_FILE_BYTES = 50 * 1024 * 1024
TITLE_MAX_CHARS = 120
# A batch of files of at least PARALLEL_MIN_BYTES (a first build) is read on every core, in
# groups of about PARALLEL_BYTES: below that, starting workers costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
PARALLEL_BYTES = 4 * 1024 * 1024

_FURNITURE = re.compile(
    r"^(\[[\w\s-]+\]|yorum\s*\(\d+\)|kaynak:?|paylaş|share|advertisement|reklam)$", re.IGNORECASE
)
_URL = r"(?:https?://|www\.)\S+|[\w-]+(?:\.[\w-]+)+(?:/\S*)?"  # "https://…", "aa.com.tr/…"
_SOURCE_LINE = re.compile(rf"^kaynak\s*:\s*({_URL})\s*$", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str  # paragraphs separated by "\n"
    source_url: str | None = None
    date: str | None = None
    lang: str = "tr"
    source_file: str = ""  # path relative to the corpus folder
    attribution: str | None = None  # "VNA'ya göre", "Kaynak: AA", "Muhabir: Ahmet Yılmaz"

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n") if p.strip()]

    @property
    def content_hash(self) -> str:
        """Changes whenever anything shown or indexed changes; drives incremental re-index."""
        fields = [self.title, self.text, self.source_url, self.date, self.lang]
        if self.attribution is not None:  # without one, the hash is what it always was
            fields.append(self.attribution)
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def skipped_files(self) -> set[str]:
        """Files that failed as a whole: their previously indexed articles must be kept."""
        return {s.file.split(":", 1)[0] for s in self.skipped}


class CorpusError(ValueError):
    """A file that cannot become articles; the message is the user-facing reason."""


class CorpusRootError(OSError):
    """The corpus folder itself is missing, not a folder or unreadable: nothing was loaded,
    which must never be taken for an empty corpus."""


def load_corpus(folder: Path) -> LoadResult:
    """Load every supported file under `folder` (recursively, dot-files ignored)."""
    result = LoadResult()
    folder = Path(folder)
    check_corpus_folder(folder)
    seen: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if _ignored(path, folder):
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            result.skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        loaded = load_file(path, rel)
        result.skipped.extend(loaded.skipped)
        for article in loaded.articles:
            if article.id in seen:
                result.skipped.append(
                    Skipped(
                        rel, f"duplicate article id {article.id!r} (also in {seen[article.id]})"
                    )
                )
                continue
            seen[article.id] = rel
            result.articles.append(article)
    return result


def check_corpus_folder(folder: Path) -> None:
    """Raise `CorpusRootError` unless `folder` is a folder whose entries can be listed."""
    if not folder.exists():
        raise CorpusRootError(f"corpus folder {folder} does not exist")
    if not folder.is_dir():
        raise CorpusRootError(f"corpus path {folder} is not a folder")
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as err:
        raise CorpusRootError(
            f"corpus folder {folder} cannot be read: {err.strerror or err}"
        ) from err


def load_file(path: Path, rel: str | None = None) -> LoadResult:
    """Load one file; errors come back as `Skipped`, never as exceptions."""
    rel = rel or path.name
    result = LoadResult()
    try:
        text = _read_text(path)
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            articles, line_errors = _parse_jsonl(text, rel)
            result.skipped.extend(Skipped(f"{rel}:{n}", why) for n, why in line_errors)
            if not articles and not line_errors:
                raise CorpusError("empty file")
        elif suffix == ".md":
            articles = [_parse_markdown(text, rel)]
        elif suffix == ".txt":
            articles = [_parse_txt(text, rel)]
        else:
            raise CorpusError(f"unsupported file type {suffix or '(none)'}")
    except CorpusError as err:
        result.skipped.append(Skipped(rel, str(err)))
        return result
    except OSError as err:
        result.skipped.append(Skipped(rel, f"unreadable: {err.strerror or err}"))
        return result
    result.articles.extend(articles)
    return result


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size == 0:
        raise CorpusError("empty file")
    if size > MAX_FILE_BYTES:
        raise CorpusError(f"too large ({_mib(size)}; limit {_mib(MAX_FILE_BYTES)})")
    data = path.read_bytes()
    text = _decode(data)
    if not text.strip():
        raise CorpusError("empty file")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")


def _decode(data: bytes) -> str:
    """UTF-8, or UTF-16 with a byte-order mark (what Windows editors call "Unicode")."""
    bom = next((order for order, mark in _UTF16_BOMS.items() if data.startswith(mark)), None)
    order = _utf16_order(data[2 if bom else 0 :][:8192])
    if order and order == bom:
        try:
            return data[2:].decode(f"utf-16-{order}")
        except UnicodeDecodeError as err:
            raise CorpusError(
                f"not valid UTF-16 text ({err.reason} at offset {err.start + 2})"
            ) from None
    if order and not bom:
        raise CorpusError("UTF-16 text without a byte-order mark; save it as UTF-8")
    if b"\x00" in data[:8192]:
        raise CorpusError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None


_UTF16_BOMS = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE}


def _utf16_order(sample: bytes) -> str | None:
    """The byte order ("le"/"be") when `sample` reads as UTF-16 text in a Latin script: the
    high byte of most characters is zero and (almost) no low byte is. Binary files, and
    8-bit text that happens to start with a byte-order mark's bytes, do not look like that."""
    even, odd = sample[0:-1:2], sample[1::2]
    if len(odd) < 2:
        return None
    for order, high, low in (("le", odd, even), ("be", even, odd)):
        if high.count(0) >= len(high) / 2 and low.count(0) <= len(low) / 100:
            return order
    return None


def _mib(size: int) -> str:
    """Rounded up, so that a file over the limit never reads as the limit itself."""
    return f"{math.ceil(size * 10 / 1_048_576) / 10:g} MiB"


def _parse_txt(text: str, rel: str) -> Article:
    """Seed format: one paragraph per line, `Kaynak: URL` for the source, furniture dropped."""
    url = None
    paragraphs = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if not line:
            continue
        if m := _SOURCE_LINE.match(line):
            url = m.group(1)
            continue
        if _FURNITURE.match(line):
            continue
        paragraphs.append(line)
    return _article({"text": "\n".join(paragraphs), "url": url}, default_id=_stem_id(rel), rel=rel)


def _parse_markdown(text: str, rel: str) -> Article:
    meta: dict = {}
    if text.startswith("---"):
        match = _FRONT_MATTER.match(text)
        if not match:
            raise CorpusError("malformed front matter: no closing '---' line")
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as err:
            reason = str(err).splitlines()[0]
            raise CorpusError(f"malformed front matter: {reason}") from None
        if not isinstance(meta, dict):
            raise CorpusError("malformed front matter: expected key: value pairs")
        text = text[match.end() :]
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split())
        if block.startswith("#"):
            heading = block.lstrip("#").strip()
            meta.setdefault("title", heading)
            if heading == meta.get("title"):
                continue
            block = heading
        if block:
            paragraphs.append(block)
    meta["text"] = "\n".join(paragraphs)
    return _article(meta, default_id=_stem_id(rel), rel=rel)


def _parse_jsonl(text: str, rel: str) -> tuple[list[Article], list[tuple[int, str]]]:
    articles, errors = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise CorpusError("expected a JSON object")
            if not isinstance(record.get("text"), str):
                raise CorpusError("missing 'text' field")
            paragraphs = [" ".join(p.split()) for p in record["text"].split("\n")]
            record["text"] = "\n".join(p for p in paragraphs if p)
            content = str(record.get("title")) + record["text"][:500]
            default_id = (
                "url-" + _short_hash(record["url"])
                if record.get("url")
                else f"{_stem_id(rel)}-{_short_hash(content)}"
            )
            articles.append(_article(record, default_id=default_id, rel=rel))
        except json.JSONDecodeError as err:
            errors.append((number, f"malformed JSON: {err.msg} (column {err.colno})"))
        except CorpusError as err:
            errors.append((number, str(err)))
    return articles, errors


def _article(meta: dict, *, default_id: str, rel: str) -> Article:
    text = str(meta.get("text") or "").strip()
    if not text:
        raise CorpusError("no article text")
    title = _clean_str(meta.get("title")) or title_from_text(text)
    # Front matter `source:` is a URL or, more often in agency copy, the agency's name.
    source = _clean_str(meta.get("source"))
    source_url = source if source and re.fullmatch(_URL, source) else None
    if source_url:
        source = None
    return Article(
        id=_clean_str(meta.get("id")) or default_id,
        title=title,
        text=text,
        source_url=_clean_str(meta.get("url") or meta.get("source_url") or source_url),
        date=_clean_date(meta.get("date")),
        lang=_clean_str(meta.get("lang")) or "tr",
        source_file=rel,
        attribution=_clean_str(meta.get("attribution")) or source or attribution_of(text),
    )


def attribution_of(text: str) -> str | None:
    """The source an article names in its closing lines ("VNA'ya göre", "(AA)", "Kaynak:
    Anadolu Ajansı", "Muhabir: Ahmet Yılmaz"; several joined by "; "), else in an agency
    dateline ("ANKARA (AA) - …"). The lines stay in the text, where they are searchable."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    closing = attribution_tail(paragraphs)
    if closing:
        return "; ".join(_unwrap(p) for p in paragraphs[-closing:])
    if paragraphs and (m := _DATELINE.match(paragraphs[0])) and _is_source_name(m.group(1)):
        return m.group(1).strip()
    return None


def attribution_tail(paragraphs: list[str]) -> int:
    """How many of the last paragraphs (at most 3) are attribution lines."""
    count = 0
    while count < min(3, len(paragraphs) - 1) and is_attribution(paragraphs[-1 - count]):
        count += 1
    return count


def is_attribution(line: str) -> bool:
    """A short line that only names a source: an agency ("AA", "Reuters", "Anadolu Ajansı",
    "(İHA)"), "X'e göre", or a label ("Kaynak:", "Muhabir:", "Haber:") with a name, not a URL."""
    line = _unwrap(line)
    if len(line) > 60 or len(line.split()) > 8:
        return False
    if m := _LABELLED.match(line):
        return not re.fullmatch(_URL, m.group(1))
    return bool(_ACCORDING.match(line)) or _is_source_name(line)


def _unwrap(line: str) -> str:
    """The line without a wrapping "(…)", a leading dash or a final period: "(AA)." is "AA"."""
    line = " ".join(line.split()).lstrip("-–— ").rstrip(".").strip()
    if line.startswith("(") and line.endswith(")") and "(" not in line[1:]:
        line = line[1:-1].strip()
    return line


def _is_source_name(name: str) -> bool:
    name = " ".join(name.split())
    return bool(
        _ACRONYM.fullmatch(name)
        or name.casefold() in _AGENCIES
        or (len(name.split()) <= 5 and name[:1].isupper() and _AGENCY_SUFFIX.search(name))
    )


_LABELLED = re.compile(
    r"^(?:kaynak|muhabir|haber|yazan|derleyen|editör|editor|fotoğraf|foto|source|reporter|"
    r"reporting by|written by)\s*:\s*(\S.*)$",
    re.IGNORECASE,
)
_ACCORDING = re.compile(r"^[A-ZÇĞİÖŞÜ]\S*(?:\s\S+){0,4}\s(?:göre|gore)$")  # "VNA'ya göre"
_ACRONYM = re.compile(r"[A-ZÇĞİÖŞÜ]{2,5}")  # AA, DHA, İHA, ANKA, VNA, AFP, TASS
_AGENCY_SUFFIX = re.compile(r"(?:ajansı|ajansi|haber merkezi|news agency|agency)$", re.IGNORECASE)
_AGENCIES = frozenset(
    "reuters xinhua sputnik bloomberg dpa ansa kyodo yonhap efe tass anka bbc".split()
) | {"associated press", "agence france-presse", "trt haber"}
# "ANKARA (AA) - …", "İstanbul (İHA) – …": the agency in an opening dateline.
_DATELINE = re.compile(
    r"^[A-ZÇĞİÖŞÜ][\w'’.-]*(?: [A-ZÇĞİÖŞÜ][\w'’.-]*)?\s*\(([^()]{2,40})\)\s*[-–—]"
)


def title_from_text(text: str) -> str:
    """First sentence, cut at a word boundary if long."""
    first = _SENTENCE_END.split(text.split("\n", 1)[0], maxsplit=1)[0].strip()
    if len(first) <= TITLE_MAX_CHARS:
        return first.rstrip(".")
    return first[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _clean_str(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _clean_date(value: object) -> str | None:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return _clean_str(value)


def _stem_id(rel: str) -> str:
    return rel.rsplit(".", 1)[0]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FileState:
    """What a corpus file was when listed: a file whose size and modification time match
    its record is not read again."""

    size: int
    mtime_ns: int


def scan(folder: Path) -> tuple[dict[str, FileState], list[Skipped]]:
    """Every supported file under `folder` with its size and modification time, without
    reading any; unsupported files come back as `Skipped`."""
    folder = Path(folder)
    check_corpus_folder(folder)
    found: dict[str, FileState] = {}
    skipped = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if _ignored(path, folder):
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            stat = path.stat()
        except OSError as err:  # removed while listing, or unreadable
            skipped.append(Skipped(rel, f"unreadable: {err.strerror or err}"))
            continue
        found[rel] = FileState(stat.st_size, stat.st_mtime_ns)
    return found, skipped


def _ignored(path: Path, folder: Path) -> bool:
    """Dot-files and folders, folders themselves and README files are not articles."""
    if any(part.startswith(".") for part in path.relative_to(folder).parts):
        return True
    return path.is_dir() or path.name.lower() == "readme.md"


def load_files(folder: Path, files: list[str]) -> tuple[LoadResult, dict[str, str]]:
    """Load these files (relative to `folder`) only, and each readable file's SHA-256. A
    large batch (a first build) is read on every core."""
    result = LoadResult()
    digests: dict[str, str] = {}
    seen: dict[str, str] = {}
    groups = _groups(Path(folder), sorted(files))
    for part in map_chunks(functools.partial(_load_groups, Path(folder)), groups, 1):
        for rel, loaded, digest in part:
            result.skipped.extend(loaded.skipped)
            if digest is not None:
                digests[rel] = digest
            for article in loaded.articles:
                if article.id in seen:
                    why = f"duplicate article id {article.id!r} (also in {seen[article.id]})"
                    result.skipped.append(Skipped(rel, why))
                    continue
                seen[article.id] = rel
                result.articles.append(article)
    return result, digests


def _groups(folder: Path, files: list[str]) -> list[list[str]]:
    """Consecutive files in groups of about PARALLEL_BYTES, or all in one group when they
    are too few bytes to pay for starting workers."""
    sizes = []
    for rel in files:
        try:
            sizes.append((folder / rel).stat().st_size)
        except OSError:
            sizes.append(0)  # load_file reports it
    if sum(sizes) < PARALLEL_MIN_BYTES:
        return [files] if files else []
    groups: list[list[str]] = [[]]
    filled = 0
    for rel, size in zip(files, sizes, strict=True):
        if filled >= PARALLEL_BYTES:
            groups.append([])
            filled = 0
        groups[-1].append(rel)
        filled += size
    return groups


def _load_groups(folder: Path, groups: list[list[str]]) -> list[tuple[str, LoadResult, str | None]]:
    """Each file's articles and SHA-256 (None when it could not be read as a whole)."""
    out = []
    for rel in (rel for group in groups for rel in group):
        path = folder / rel
        loaded = load_file(path, rel)
        digest = None
        if loaded.articles or not any(s.file == rel for s in loaded.skipped):
            with contextlib.suppress(OSError):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append((rel, loaded, digest))
    return out
