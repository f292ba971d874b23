"""URLs: which are fetched at all, one spelling per page (tracking parameters dropped), and
the file names articles are saved under."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WEB_SCHEMES = ("http", "https")
# Parameters that only say where a click came from: the same page under another URL.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
        "s_cid",
        "ref_src",
        "ref_url",
        "cmpid",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "ga_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TURKISH_FOLD = str.maketrans("çğıöşüâîûÇĞİÖŞÜÂÎÛ", "cgiosuaiuCGIOSUAIU")


class BadURL(ValueError):
    """Not an absolute http(s) URL; the message says why."""


def check_web_url(url: str) -> str:
    """`url` stripped, when it is an absolute http or https URL with a host."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise BadURL(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise BadURL(f"no host in {url!r}")
    try:
        _ = parts.port
    except ValueError:
        raise BadURL(f"bad port in {url!r}") from None
    return url


def host_of(url: str) -> str:
    """The lower-case host name of a URL ('' when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def normalize_url(url: str) -> str:
    """One spelling per page: lower-case scheme and host, no default port, no fragment, no
    tracking parameters (utm_*, fbclid, gclid…), the other parameters sorted."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(key)
    )
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def host_folder(url: str) -> str:
    """A folder name for a URL's host: letters, digits, '.', '-' only."""
    return re.sub(r"[^a-z0-9.-]+", "_", host_of(url)).strip("._") or "unknown-host"


def article_slug(url: str) -> str:
    """A stable, readable file stem for a page: its last path words (ASCII) and a hash of its
    normalised URL, so that two pages never share a file and one page always gets the same."""
    parts = urlsplit(url)
    words = parts.path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = re.sub(r"[^a-z0-9]+", "-", words.translate(_TURKISH_FOLD).lower()).strip("-")[:60]
    digest = hashlib.sha256(normalize_url(url).encode()).hexdigest()[:10]
    return f"{words.rstrip('-')}-{digest}" if words else digest
