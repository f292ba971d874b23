"""News that arrives by itself: the watched corpus folder and RSS/Atom/JSON feeds.

The corpus folder stays the single source of truth: feeds only write articles into it
(`corpusfiles.py`), and the index learns about files through `Engine.update_files`.

| module | holds |
|---|---|
| `config.py` | `IngestConfig`: what the bot's settings give this package. |
| `urls.py` | URL checks and normalisation (tracking parameters), file-name slugs. |
| `network.py` | The SSRF guard: which hosts may be connected to, enforced at connect time. |
| `robots.py` | robots.txt rules per origin (protego). |
| `fetch.py` | Polite, bounded HTTP: User-Agent, per-host limit, timeouts, size and redirect caps. |
| `feeds.py` | The `FeedFormat` interface, its backends (RSS/Atom, JSON Feed) and `parse_feed`. |
| `extract.py` | Title, date and main text of an article page (trafilatura, htmldate). |
| `state.py` | The SQLite state file: known URLs and contents, feed validators, last rounds. |
| `corpusfiles.py` | Writing an article into the corpus as Markdown with front matter, atomically. |
| `rounds.py` | One ingest round over a list of feeds, and its report. |
| `autoindex.py` | Applying changed files to the index, remembering the last automatic update. |
| `watcher.py` | The corpus folder watcher (watchfiles): debounced, settled batches of files. |
| `poller.py` | Feed rounds on an interval while the bot runs. |
"""
