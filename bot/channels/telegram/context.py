"""The typed PTB handler context and application type shared by the Telegram handlers and jobs."""

from __future__ import annotations

from typing import Any, TypeAlias, cast

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.chat.message import ChatService
from bot.settings import Settings

SERVICE_KEY = "service"
SETTINGS_KEY = "settings"


class BotContext(CallbackContext[ExtBot[int], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Handler context exposing the chat service and the settings instead of raw `bot_data` keys."""

    @property
    def service(self) -> ChatService:
        """The platform-neutral chat service shared by all handlers."""
        return cast(ChatService, self.bot_data[SERVICE_KEY])

    @property
    def settings(self) -> Settings:
        """The settings the application was built with."""
        return cast(Settings, self.bot_data[SETTINGS_KEY])


PanelApplication: TypeAlias = Application[
    ExtBot[int], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[BotContext]
]
