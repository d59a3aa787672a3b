"""The Telegram channel: a python-telegram-bot application over the chat core.

`app` wires the application (polling or webhook), `inbound` turns updates into `Inbound`
messages, `render` turns replies into Telegram HTML, `jobs` schedules reloads and daily quotes,
`context` holds the typed callback context.
"""

from bot.channels.telegram.app import build_application, run_telegram

__all__ = ["build_application", "run_telegram"]
