"""Questions addressed to the bot in groups: the mention is not part of the question."""

from __future__ import annotations

import pytest

from bot.filters import without_mention


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("@QaTestBot 16 Aralık'ta ne oldu?", "16 Aralık'ta ne oldu?"),
        ("@qatestbot, kim katıldı?", "kim katıldı?"),
        ("Söyle @QaTestBot: kim katıldı?", "Söyle kim katıldı?"),
        ("kim katıldı @QaTestBot", "kim katıldı"),
        ("@QaTestBotX ve @QaTestBot", "@QaTestBotX ve"),
        ("@QaTestBot", ""),
    ],
)
def test_the_mention_is_removed(text: str, question: str) -> None:
    assert without_mention(text, "QaTestBot") == question
