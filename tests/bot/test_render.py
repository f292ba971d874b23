"""Rendering answers as Telegram HTML: escaping, quoting, linking, splitting."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from telegram import MessageEntity

from bot.render import (
    MESSAGE_LIMIT,
    Source,
    first_page,
    order_sources,
    pack,
    plain_text,
    quote,
    render_answer,
    render_declined,
    render_more,
    source_line,
    utf16_len,
)
from bot.texts import EN, TR
from embeddings.answer import Copy, Declined, Evidence, Hit
from tests.bot.fake_telegram import parse_html


def hit(
    text: str = "First sentence. The answer is here.",
    highlight: str = "The answer is here.",
    *,
    passage_id: str = "p1",
    article_id: str = "a1",
    title: str = "A title",
    url: str | None = "https://example.org/a",
    date: str | None = "2024-12-16",
    weak: bool = False,
    attribution: str | None = None,
    also: tuple[Copy, ...] = (),
) -> Hit:
    return Hit(
        passage_id=passage_id,
        article_id=article_id,
        text=text,
        highlight=highlight,
        score=1.0,
        title=title,
        source_url=url,
        date=date,
        evidence=Evidence(coverage=0.2 if weak else 1.0),
        weak=weak,
        attribution=attribution,
        also=also,
    )


def entities(message: str) -> dict[str, list[str]]:
    """Entity type → the visible text of each, as Telegram would parse the message."""
    text, found = parse_html(message)
    out: dict[str, list[str]] = {}
    for entity in found:
        start = len(text.encode("utf-16-le")[: entity.offset * 2].decode("utf-16-le"))
        end = len(
            text.encode("utf-16-le")[: (entity.offset + entity.length) * 2].decode("utf-16-le")
        )
        out.setdefault(entity.type, []).append(text[start:end])
    return out


def test_the_best_passage_is_quoted_with_its_answering_sentence_bold_and_a_linked_source() -> None:
    [message] = render_answer(order_sources([hit()]), answered=True, t=EN)

    found = entities(message)
    assert found[MessageEntity.BLOCKQUOTE] == ["First sentence. The answer is here."]
    assert found[MessageEntity.BOLD] == ["The answer is here."]
    assert found[MessageEntity.TEXT_LINK] == ["A title"]
    assert '<a href="https://example.org/a">A title</a> · 2024-12-16' in message


def test_user_and_corpus_text_is_escaped() -> None:
    source = hit(
        text="Formula: a < b & c > d </blockquote> <b>not bold</b>",
        highlight="a < b & c > d",
        title="R&D <Lab>",
        url="https://example.org/a?x=1&y=2",
        date="<today>",
    )

    [message] = render_answer(order_sources([source]), answered=True, t=EN)

    text, found = parse_html(message)  # strict: raises on anything Telegram would reject
    assert "a < b & c > d </blockquote> <b>not bold</b>" in text
    assert "R&D <Lab> · <today>" in text
    assert [e.url for e in found if e.type == MessageEntity.TEXT_LINK] == [
        "https://example.org/a?x=1&y=2"
    ]


def test_only_http_links_are_made() -> None:
    line = source_line(Source.from_hit(hit(url="javascript:alert(1)")), EN)

    assert "<a" not in line


def test_further_answering_sources_are_numbered_short_quotes_with_links() -> None:
    hits = [
        hit(passage_id="p1", article_id="a1"),
        hit("Other text. " + "Long " * 80, "Long " * 80, passage_id="p2", article_id="a2"),
        hit(passage_id="p3", article_id="a3", title="Third", url=None),
        hit(passage_id="p4", article_id="a4", title="Fourth"),
    ]

    [message] = render_answer(order_sources(hits), answered=True, t=TR)

    text, _ = parse_html(message)
    assert "Diğer kaynaklar" in text
    assert "\n2. «Long Long" in text and "…» — 📰 A title" in text
    assert "\n3. «The answer is here.» — 📰 Third" in text
    assert "Fourth" not in text  # left for "More sources"


def test_weak_passages_come_after_answering_ones_and_are_marked() -> None:
    hits = [hit(passage_id="w", article_id="w", weak=True), hit(passage_id="s", article_id="s")]

    sources = order_sources(hits)

    assert [s.passage_ids for s in sources] == [("s",), ("w",)]
    assert first_page(sources, answered=True) == 1
    [more] = render_more(sources, 1, EN)
    assert "2. 📰" in more and "(possibly unrelated)" in more


def test_overlapping_passages_of_one_article_are_joined_into_one_quote() -> None:
    first = hit("One. Two. The third one.", "The third one.", passage_id="p1")
    second = hit("The third one.\nFour. Five.", "The third one.", passage_id="p2")
    inside = hit("Four.", "Four.", passage_id="p3", weak=True)
    weak_neighbour = hit("Five.\nSix and more.", "Six and more.", passage_id="p4", weak=True)
    other = hit("The third one.\nFour. Five.", "Four.", passage_id="p5", article_id="other")

    sources = order_sources([second, first, inside, weak_neighbour, other])

    assert [(s.passage_ids, s.text) for s in sources] == [
        (("p2", "p1", "p3"), "One. Two. The third one.\nFour. Five."),
        (("p5",), "The third one.\nFour. Five."),
        (("p4",), "Five.\nSix and more."),  # weak passages are not joined to answers
    ]


def test_nothing_relevant_says_so_and_offers_the_closest_passage_marked() -> None:
    sources = order_sources([hit(weak=True), hit(passage_id="p2", article_id="a2", weak=True)])

    [message] = render_answer(sources, answered=False, t=TR)

    text, found = parse_html(message)
    assert text.startswith(TR.not_found)
    assert "İlgili olabilecek en yakın bölüm" in text
    assert len([e for e in found if e.type == MessageEntity.BLOCKQUOTE]) == 1
    assert first_page(sources, answered=False) == 1


def test_nothing_at_all_is_a_short_not_found() -> None:
    assert render_answer([], answered=False, t=EN) == [EN.not_found]


def test_long_passages_use_an_expandable_blockquote() -> None:
    assert quote("short", "short")[0].startswith("<blockquote>")
    assert quote("long " * 200, "long")[0].startswith("<blockquote expandable>")


@pytest.mark.parametrize("separator", ["\n", " "])
def test_a_passage_too_long_for_one_message_is_split_cleanly(separator: str) -> None:
    paragraphs = [f"Paragraph {i} says <{i}> & more. " * 12 for i in range(40)]
    text = separator.join(p.strip() for p in paragraphs)
    highlight = paragraphs[20].strip()

    messages = render_answer(order_sources([hit(text, highlight)]), answered=True, t=EN)

    assert len(messages) > 1
    visible = []
    for message in messages:
        assert utf16_len(message) <= MESSAGE_LIMIT
        body, _ = parse_html(message)  # every piece is complete HTML
        visible.append(body)
        if separator == "\n":  # paragraph boundaries are preferred
            assert (
                message.startswith(
                    ("<blockquote expandable>Paragraph", "<blockquote expandable>… Paragraph")
                )
                or "📰" in message
            )
    joined = " ".join(" ".join(visible).split())
    # The quote leads with the answer: it starts one sentence before the highlight, marked
    # "…", and nothing from there to the end of the passage is lost.
    assert joined.startswith("… ") and "Paragraph 0 says" not in joined
    lead_in = text[: text.index(highlight)].rstrip().rsplit(". ", 1)[-1]
    kept = text[text.index(highlight) - len(lead_in) - 1 :]
    assert " ".join(kept.split()) in joined
    bold = [b for m in messages for b in entities(m).get(MessageEntity.BOLD, [])]
    assert " ".join(bold) == highlight


def test_a_single_unbreakable_word_is_still_split_under_the_limit() -> None:
    messages = quote("&" * 5000, "")  # each "&" is five characters of HTML

    assert len(messages) > 1
    assert all(utf16_len(m) <= MESSAGE_LIMIT for m in messages)
    assert sum(len(parse_html(m)[0]) for m in messages) == 5000


def test_pack_never_starts_a_message_with_a_blank_line() -> None:
    big = "x" * 3000

    assert pack([big, "", big]) == [big, big]


def test_plain_text_drops_the_markup() -> None:
    assert plain_text('<b>a &lt; b</b> <a href="https://x.org/?a&amp;b">t</a>') == "a < b t"


def test_quote_leads_with_the_answer_when_it_sits_deep_in_the_passage():
    filler = " ".join(f"Giriş cümlesi {i} burada duruyor." for i in range(12))
    text = f"{filler}\nBağlam cümlesi. Yanıt cümlesi Le Minh Hung adını taşıyor. Son cümle."
    [rendered] = quote(text, "Yanıt cümlesi Le Minh Hung adını taşıyor.")
    body = rendered.split(">", 1)[1]
    assert body.startswith("… Bağlam cümlesi. <b>Yanıt cümlesi")
    assert "Giriş cümlesi 0" not in rendered


def test_quote_keeps_a_short_lead_in_whole():
    [rendered] = quote("Kısa giriş. Yanıt burada.", "Yanıt burada.")
    assert rendered == "<blockquote>Kısa giriş. <b>Yanıt burada.</b></blockquote>"


REPOSTS = (
    Copy("b", "Göç <erken> başladı", "https://www.gazete-a.example/van?x=1&y=2", "2026-05-12"),
    Copy("c", "Kefaller & göç", None, "2026-05-13"),
    Copy("d", "Üçüncü", "javascript:alert(1)", None),
)


@pytest.mark.parametrize(("t", "label"), [(TR, "Aynı haber:"), (EN, "Also reported by:")])
def test_other_outlets_of_the_story_are_one_line_of_links_under_the_quote(t, label) -> None:
    [message] = render_answer(order_sources([hit(also=REPOSTS)]), answered=True, t=t)

    text, found = parse_html(message)  # strict: raises on anything Telegram would reject
    lines = text.splitlines()
    assert lines[-1] == (
        f"🔁 {label} gazete-a.example (2026-05-12), Kefaller & göç (2026-05-13), Üçüncü"
    )
    assert lines[-2].startswith("📰 A title")
    links = [e.url for e in found if e.type == MessageEntity.TEXT_LINK]
    assert links == ["https://example.org/a", "https://www.gazete-a.example/van?x=1&y=2"]


def test_the_attribution_is_shown_on_the_source_line_escaped() -> None:
    [message] = render_answer(
        order_sources([hit(attribution="Muhabir: <Ayşe> & Kaynak: DHA")]), answered=True, t=TR
    )
    text, _ = parse_html(message)
    assert "📰 A title · 2024-12-16 · ✍️ Muhabir: <Ayşe> & Kaynak: DHA" in text


def test_more_sources_pages_show_each_storys_other_outlets_too() -> None:
    hits = [hit(passage_id=f"p{i}", article_id=f"a{i}", also=REPOSTS[:1]) for i in range(5)]
    [page] = render_more(order_sources(hits), 3, EN)
    assert page.count("Also reported by:") == 2


def test_sources_stored_before_attributions_and_copies_still_load() -> None:
    stored = Source.from_hit(hit(also=REPOSTS, attribution="AA")).to_dict()
    again = Source.from_dict(json.loads(json.dumps(stored)))
    assert again == Source.from_hit(hit(also=REPOSTS, attribution="AA"))
    old = {k: v for k, v in stored.items() if k not in ("also", "attribution")}
    assert Source.from_dict(old).also == () and Source.from_dict(old).attribution is None


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (TR, "Derlemde 1 Aralık 2026 tarihli haber yok; en yeni haberler 1 Ekim 2026 tarihli."),
        (EN, "The corpus has no news from 1 December 2026; its latest articles are from "
         "1 October 2026."),
    ],
)  # fmt: skip
def test_a_declined_question_says_the_latest_date_the_corpus_has(t, expected) -> None:
    day = dt.date(2026, 12, 1)
    [message] = render_declined(Declined(day, day, dt.date(2026, 10, 1)), t)
    assert plain_text(message) == f"🗓 {expected}"


def test_a_declined_period_names_both_ends() -> None:
    declined = Declined(dt.date(2026, 9, 28), dt.date(2026, 10, 4), dt.date(2026, 6, 18))
    [message] = render_declined(declined, EN)
    assert "28 September 2026 – 4 October 2026" in message
