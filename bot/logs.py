"""Logging set-up: one format, and every configured secret masked in everything that is logged.

Libraries log what they see: httpx logs each request URL, and a Bot API URL carries the bot token
(`…/bot123:ABC/getUpdates`). Masking happens in the formatter, so messages, arguments and tracebacks
are all covered, at every level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret in the formatted record by `MASK`."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then mask the secrets."""
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def configure_logging(*, verbose: bool, secrets: Iterable[str]) -> None:
    """Log to stderr at INFO (`-v`) or WARNING, with `secrets` masked in every line."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT)
    formatter = RedactingFormatter(secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
