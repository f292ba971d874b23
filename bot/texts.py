"""Everything the bot says, in Turkish and English.

Strings are Telegram HTML: fixed markup only, so every `{placeholder}` must be filled with
already escaped text (numbers, or values passed through `html.escape`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import User


@dataclass(frozen=True)
class Texts:
    # answers
    not_found: str
    possibly_related: str
    maybe_unrelated: str
    other_sources: str
    more_sources: str
    no_more_sources: str
    also_reported: str
    no_news_for_period: str
    months: tuple[str, ...]
    session_expired: str
    feedback_thanks: str
    # bad input
    empty_question: str
    too_long: str
    text_only: str
    unknown_command: str
    rate_limited: str
    something_went_wrong: str
    # admin
    admin_only: str
    upload_admin_only: str
    reloading: str
    indexing_upload: str
    reload_mass_deletion: str
    reload_done: str
    reload_unchanged: str
    reload_failed: str
    skipped_header: str
    kept_articles: str
    stats: str
    lexical_only: str
    upload_unsupported: str
    upload_too_large: str
    upload_refused: str
    upload_duplicate_ids: str
    upload_same: str
    upload_added: str
    upload_index_failed: str
    auto_update: str
    auto_update_refused: str
    auto_update_failed: str
    auto_none_yet: str
    watching_off: str
    origin_watch: str
    origin_feeds: str
    feeds_header: str
    feed_round: str
    feed_round_failed: str
    feed_never_read: str
    no_feeds: str
    # command menu (plain text, shown by Telegram clients)
    command_ask: str
    command_help: str
    command_start: str
    command_reload: str
    command_stats: str
    command_feeds: str


TR = Texts(
    not_found="🤷 Bu sorunun yanıtını derlemdeki haberlerde bulamadım.",
    possibly_related="<i>İlgili olabilecek en yakın bölüm (sorunuzu yanıtlamıyor olabilir):</i>",
    maybe_unrelated="<i>(ilgisiz olabilir)</i>",
    other_sources="<b>Diğer kaynaklar</b>",
    more_sources="Daha fazla kaynak",
    no_more_sources="Başka kaynak yok.",
    also_reported="🔁 <i>Aynı haber:</i> {outlets}",
    no_news_for_period=(
        "🗓 Derlemde {period} tarihli haber yok; en yeni haberler {latest} tarihli."
    ),
    months=(
        "Ocak",
        "Şubat",
        "Mart",
        "Nisan",
        "Mayıs",
        "Haziran",
        "Temmuz",
        "Ağustos",
        "Eylül",
        "Ekim",
        "Kasım",
        "Aralık",
    ),
    session_expired="Bu yanıtın süresi doldu; lütfen soruyu yeniden sorun.",
    feedback_thanks="Teşekkürler, geri bildiriminiz kaydedildi.",
    empty_question=(
        "Sorunuzu yazmadınız. Örnek: <code>/ask 16 Aralık konferansına kim başkanlık etti?</code>"
    ),
    too_long="Sorunuz çok uzun ({length} karakter). Lütfen en fazla {limit} karakterle sorun.",
    text_only="Yalnızca yazılı soruları yanıtlayabiliyorum; lütfen sorunuzu metin olarak yazın.",
    unknown_command="Bu komutu tanımıyorum. Neler yapabildiğimi görmek için /help yazın.",
    rate_limited=(
        "Kısa sürede çok fazla soru sordunuz. Lütfen {seconds} saniye sonra yeniden deneyin."
    ),
    something_went_wrong="Üzgünüm, bir şeyler ters gitti. Lütfen biraz sonra yeniden deneyin.",
    admin_only="Üzgünüm, bu komut yalnızca yöneticiler içindir.",
    upload_admin_only="Üzgünüm, derleme yalnızca yöneticiler belge ekleyebilir.",
    reloading="⏳ Derlem klasörü yeniden okunuyor, dizin güncelleniyor…",
    indexing_upload="⏳ {name} dizine ekleniyor…",
    reload_mass_deletion=(
        "⚠️ Hiçbir şey değiştirilmedi: bu güncelleme {total} makaleden {removing} tanesini "
        "silecekti (derlem klasörü boş ya da bağlı değil mi?).\n"
        "Yine de yapmak için /reload confirm gönderin."
    ),
    reload_done=(
        "✅ Dizin {seconds} saniyede güncellendi.\n"
        "Makaleler: {articles} (eklenen {added}, değişen {changed}, silinen {removed})\n"
        "Bölümler: {passages} (+{passages_added} / −{passages_removed})"
    ),
    reload_unchanged="✅ Değişiklik yok ({seconds} sn): {articles} makale, {passages} bölüm.",
    reload_failed=(
        "❌ Dizin güncellenemedi; önceki dizin kullanılmaya devam ediyor.\nNeden: {reason}"
    ),
    skipped_header="Atlanan dosyalar ({count}):",
    kept_articles="Yüklenemeyen dosyalardaki {count} makale eski haliyle korundu.",
    stats=(
        "📊 <b>Durum</b>\n"
        "Makaleler: {articles}\n"
        "Bölümler: {passages}\n"
        "Model: {model}\n"
        "Dizin boyutu: {size}\n"
        "Çalışma süresi: {uptime}\n"
        "Sorular: {questions} (yanıtlanan {answered})\n"
        "Ortanca yanıt süresi: {median}\n"
        "Geri bildirim: 👍 {up} · 👎 {down}"
    ),
    lexical_only="yok (yalnızca sözcük araması)",
    upload_unsupported=(
        "❌ {name} eklenmedi: yalnızca .txt, .md ve .jsonl dosyaları kabul ediliyor."
    ),
    upload_too_large="❌ {name} eklenmedi: dosya çok büyük ({size}; sınır {limit}).",
    upload_refused="❌ {name} eklenmedi:",
    upload_duplicate_ids="❌ {name} eklenmedi: bu makale kimlikleri başka dosyalarda zaten var:",
    upload_same="ℹ️ {name} derlemde zaten aynı içerikle var; değişiklik yapılmadı.",
    upload_added=(
        "✅ {name} olarak kaydedildi ve dizine eklendi ({seconds} sn).\n"
        "Dosyadaki makaleler: {count} (yeni {added}, güncellenen {changed})\n"
        "Dizinde şimdi {articles} makale, {passages} bölüm var."
    ),
    upload_index_failed=(
        "⚠️ {name} kaydedildi ama dizine eklenemedi; önceki dizin kullanılmaya devam ediyor.\n"
        "Neden: {reason}\nSorunu giderip /reload çalıştırın."
    ),
    auto_update=(
        "🔄 <b>Son otomatik güncelleme</b> ({when}, {origin}): eklenen {added}, değişen "
        "{changed}, silinen {removed}, atlanan dosya {skipped}"
    ),
    auto_update_refused=(
        "⚠️ <b>Son otomatik güncelleme</b> ({when}, {origin}) yapılmadı: {total} makaleden "
        "{removing} tanesini silecekti. Amaçlanan buysa /reload confirm gönderin."
    ),
    auto_update_failed=(
        "❌ <b>Son otomatik güncelleme</b> ({when}, {origin}) başarısız; önceki dizin "
        "kullanılıyor. Neden: {reason}"
    ),
    auto_none_yet="🔄 Derlem klasörü izleniyor; henüz otomatik güncelleme olmadı.",
    watching_off="Derlem klasörü izlenmiyor (WATCH_CORPUS=false): güncelleme için /reload.",
    origin_watch="klasör izleme",
    origin_feeds="akışlar",
    feeds_header="📰 <b>Akışlar</b> ({count}; her {interval} okunuyor)",
    feed_round="• {feed}\n  {when}: yeni {new}, bilinen {known}, atlanan {skipped}",
    feed_round_failed=(
        "• {feed}\n  {when}: okunamadı ({error}); yeni {new}, bilinen {known}, atlanan {skipped}"
    ),
    feed_never_read="• {feed}\n  henüz okunmadı",
    no_feeds="📰 Tanımlı akış yok (FEED_URLS).",
    command_ask="Derleme bir soru sor",
    command_help="Botun bildikleri ve nasıl soru sorulur",
    command_start="Başlangıç ve yardım",
    command_reload="Derlem klasörünü yeniden oku ve dizini güncelle",
    command_stats="Dizin ve kullanım istatistikleri",
    command_feeds="Haber akışları ve son okumaları",
)

EN = Texts(
    not_found="🤷 I couldn't find the answer to this in the news corpus.",
    possibly_related=(
        "<i>The closest passage, possibly related (it may not answer your question):</i>"
    ),
    maybe_unrelated="<i>(possibly unrelated)</i>",
    other_sources="<b>Other sources</b>",
    more_sources="More sources",
    no_more_sources="No more sources.",
    also_reported="🔁 <i>Also reported by:</i> {outlets}",
    no_news_for_period=(
        "🗓 The corpus has no news from {period}; its latest articles are from {latest}."
    ),
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    session_expired="This answer has expired; please ask your question again.",
    feedback_thanks="Thanks, your feedback was recorded.",
    empty_question=(
        "You didn't write a question. Example: "
        "<code>/ask Who chaired the conference on 16 December?</code>"
    ),
    too_long="Your question is too long ({length} characters). Please keep it to {limit}.",
    text_only="I can only answer written questions; please type your question as text.",
    unknown_command="I don't know that command. Send /help to see what I can do.",
    rate_limited=(
        "You've asked a lot of questions in a short time. Please try again in {seconds} s."
    ),
    something_went_wrong="Sorry, something went wrong. Please try again in a moment.",
    admin_only="Sorry, this command is only for administrators.",
    upload_admin_only="Sorry, only administrators can add documents to the corpus.",
    reloading="⏳ Re-reading the corpus folder and updating the index…",
    indexing_upload="⏳ Indexing {name}…",
    reload_mass_deletion=(
        "⚠️ Nothing was changed: this update would remove {removing} of {total} articles "
        "(is the corpus folder empty or unmounted?).\n"
        "Send /reload confirm to do it anyway."
    ),
    reload_done=(
        "✅ Index updated in {seconds} s.\n"
        "Articles: {articles} (added {added}, changed {changed}, removed {removed})\n"
        "Passages: {passages} (+{passages_added} / −{passages_removed})"
    ),
    reload_unchanged="✅ No changes ({seconds} s): {articles} articles, {passages} passages.",
    reload_failed=(
        "❌ The index update failed; the previous index is still serving.\nReason: {reason}"
    ),
    skipped_header="Skipped files ({count}):",
    kept_articles="Kept {count} articles as they were from files that failed to load.",
    stats=(
        "📊 <b>Status</b>\n"
        "Articles: {articles}\n"
        "Passages: {passages}\n"
        "Model: {model}\n"
        "Index size: {size}\n"
        "Uptime: {uptime}\n"
        "Questions: {questions} (answered {answered})\n"
        "Median answer time: {median}\n"
        "Feedback: 👍 {up} · 👎 {down}"
    ),
    lexical_only="none (lexical-only)",
    upload_unsupported="❌ {name} was not added: only .txt, .md and .jsonl files are accepted.",
    upload_too_large="❌ {name} was not added: the file is too large ({size}; limit {limit}).",
    upload_refused="❌ {name} was not added:",
    upload_duplicate_ids="❌ {name} was not added: these article ids already exist in other files:",
    upload_same="ℹ️ {name} is already in the corpus with the same content; nothing changed.",
    upload_added=(
        "✅ Saved as {name} and indexed ({seconds} s).\n"
        "Articles in the file: {count} (new {added}, updated {changed})\n"
        "The index now holds {articles} articles, {passages} passages."
    ),
    upload_index_failed=(
        "⚠️ {name} was saved but could not be indexed; the previous index is still serving.\n"
        "Reason: {reason}\nFix the problem and run /reload."
    ),
    auto_update=(
        "🔄 <b>Last automatic update</b> ({when}, {origin}): added {added}, changed "
        "{changed}, removed {removed}, files skipped {skipped}"
    ),
    auto_update_refused=(
        "⚠️ <b>Last automatic update</b> ({when}, {origin}) not done: it would have removed "
        "{removing} of {total} articles. Send /reload confirm if that is intended."
    ),
    auto_update_failed=(
        "❌ <b>Last automatic update</b> ({when}, {origin}) failed; the previous index is "
        "still serving. Reason: {reason}"
    ),
    auto_none_yet="🔄 Watching the corpus folder; no automatic update yet.",
    watching_off="The corpus folder is not watched (WATCH_CORPUS=false): /reload updates it.",
    origin_watch="folder watch",
    origin_feeds="feeds",
    feeds_header="📰 <b>Feeds</b> ({count}; read every {interval})",
    feed_round="• {feed}\n  {when}: new {new}, known {known}, skipped {skipped}",
    feed_round_failed=(
        "• {feed}\n  {when}: unreadable ({error}); new {new}, known {known}, skipped {skipped}"
    ),
    feed_never_read="• {feed}\n  not read yet",
    no_feeds="📰 No feeds configured (FEED_URLS).",
    command_ask="Ask the corpus a question",
    command_help="What the bot knows and how to ask",
    command_start="Welcome and help",
    command_reload="Re-read the corpus folder and update the index",
    command_stats="Index and usage statistics",
    command_feeds="News feeds and their last rounds",
)

HELP = (
    "🇹🇷 <b>Merhaba!</b> {articles} haber makalesinden oluşan bir derlemle ilgili soruları "
    "yanıtlıyorum. Makaleler Türkçe; sorularınızı Türkçe ya da İngilizce sorabilirsiniz.\n"
    "• Özel sohbette sorunuzu doğrudan yazın.\n"
    "• Gruplarda beni @{username} ile anın, mesajlarımdan birine yanıt verin ya da "
    "<code>/ask soru</code> yazın.\n"
    "Her yanıtta ilgili bölümü alıntılar, kaynağına bağlantı veririm. Yanıt derlemde yoksa "
    "bunu söylerim.\n\n"
    "🇬🇧 <b>Hello!</b> I answer questions about a corpus of {articles} news articles. The "
    "articles are in Turkish; ask in Turkish or English.\n"
    "• In a private chat, just type your question.\n"
    "• In groups, mention me as @{username}, reply to one of my messages, or write "
    "<code>/ask question</code>.\n"
    "Every answer quotes the passage it comes from with a link to its source. If the corpus "
    "doesn't hold the answer, I say so."
)


def texts(language: str) -> Texts:
    """The strings for a question's language, 'tr' or 'en'."""
    return EN if language == "en" else TR


def texts_for(user: User | None) -> Texts:
    """The strings for a Telegram user's app language (Turkish unless it is another one)."""
    code = user.language_code if user else None
    return EN if code and not code.lower().startswith("tr") else TR
