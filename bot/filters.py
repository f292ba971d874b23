"""Who a group message is for: the bot answers in groups only when addressed."""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.ext import filters


class _AddressedToBot(filters.MessageFilter):
    """An @mention of the bot (text or caption), or a reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        reply = message.reply_to_message
        # In forum topics every message "replies" to the topic's opening service message.
        if (
            reply
            and reply.from_user
            and reply.from_user.id == bot.id
            and not reply.forum_topic_created
        ):
            return True
        mention = f"@{bot.username}".lower()
        mentions = {
            **message.parse_entities([MessageEntity.MENTION]),
            **message.parse_caption_entities([MessageEntity.MENTION]),
        }
        return any(text.lower() == mention for text in mentions.values())


class _CommandForThisBot(filters.MessageFilter):
    """A command naming this bot ("/foo@ThisBot"): in groups, "/foo" alone may be another bot's."""

    def filter(self, message: Message) -> bool:
        words = (message.text or "").split(maxsplit=1)
        username = words[0].partition("@")[2] if words else ""
        return bool(username) and username.lower() == (message.get_bot().username or "").lower()


ADDRESSED = _AddressedToBot(name="ADDRESSED")
COMMAND_FOR_THIS_BOT = _CommandForThisBot(name="COMMAND_FOR_THIS_BOT")


def without_mention(text: str, username: str) -> str:
    """The question once "@username" (and punctuation left hanging after it) is removed."""
    text = re.sub(rf"(?<!\w)@{re.escape(username)}(?!\w)[,:;]?", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split()).strip(" ,:;")
