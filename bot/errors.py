"""Errors raised by the bot.

Every error carries the text a user may see (``user_message``) apart from the
developer-facing message; each channel turns errors into user text in exactly
one place.

* BotError
  x ConfigError             a setting is missing or malformed
  x SourceError             a seed document cannot be read (empty, binary, too large, bad encoding)
  x PersonaError            a persona profile is invalid
    + UnknownPersonaError   no persona has that id, name or alias
    + QuoteNotVerbatimError a quote's text is not exactly its source span
  x AttributionError        nobody could be attributed in a source
  x ReloadError             a reload or added source failed; the serving state is unchanged
  x RetrievalError          the index cannot be built or queried
  x ComposeError            an answer cannot be composed
  x AdapterError            a channel adapter failed
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or "抱歉，出了点问题，请稍后再试。"


class ConfigError(BotError):
    """A setting is missing or malformed."""


class SourceError(BotError):
    """A seed document cannot be read or decoded."""

    def __init__(self, message: str, *, path: str, user_message: str | None = None) -> None:
        super().__init__(f"{path}: {message}", user_message=user_message or f"无法读取来源 {path}：{message}")
        self.path = path


class PersonaError(BotError):
    """A persona profile is invalid."""


class UnknownPersonaError(PersonaError):
    """No persona matches the given id, name or alias."""

    def __init__(self, key: str) -> None:
        super().__init__(f"unknown persona: {key}", user_message=f"没有找到“{key}”这位嘉宾。")
        self.key = key


class QuoteNotVerbatimError(PersonaError):
    """A quote's text differs from the source span it points at."""

    def __init__(self, *, persona: str, quote: str, source: str, detail: str) -> None:
        super().__init__(
            f"persona {persona}: quote {quote} does not match source {source}: {detail}",
            user_message="人物资料中的引文与原文不符，已拒绝加载。",
        )
        self.persona, self.quote, self.source = persona, quote, source


class AttributionError(BotError):
    """Nobody could be attributed in a source."""


class ReloadError(BotError):
    """A reload or an added source failed; the old personas and index keep serving."""


class RetrievalError(BotError):
    """The index cannot be built or queried."""


class ComposeError(BotError):
    """An answer cannot be composed."""


class AdapterError(BotError):
    """A channel adapter failed."""
