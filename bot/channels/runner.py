"""Run one or more channels in one process until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.chat.service import PanelService
from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

ChannelRunner = Callable[[PanelService, Settings, asyncio.Event], Coroutine[Any, Any, None]]
CHANNELS = ("telegram", "wechat")


def channel_runner(name: str, settings: Settings) -> ChannelRunner:
    """Return the coroutine function that serves channel `name`, once its settings are checked.

    Raises:
        ConfigError: the channel is unknown or its required settings are missing.
    """
    if name == "telegram":
        if not settings.telegram_token.get_secret_value():
            raise ConfigError(
                "TELEGRAM_TOKEN is not set: put the token from @BotFather in the environment or .env",
                user_message="TELEGRAM_TOKEN 未设置。",
            )
        from bot.channels.telegram.app import run_telegram
        from bot.channels.telegram.webhook import webhook_secret

        if settings.telegram_webhook_url:
            webhook_secret(settings)
        return run_telegram
    if name == "wechat":
        from bot.channels.wechat.app import check_settings, run_wechat

        check_settings(settings)
        return run_wechat
    raise ConfigError(f"unknown channel {name!r}; choose one of {', '.join(CHANNELS)} or all")


async def serve_channels(service: PanelService, settings: Settings, runners: Sequence[ChannelRunner]) -> None:
    """Run the channels until a signal arrives or one of them fails (then the others stop too)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(runner(service, settings, stop)) for runner in runners
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # re-raise the first failure
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def serve(settings: Settings, names: Sequence[str]) -> None:
    """Open the chat core and serve the named channels until interrupted."""
    runners = [channel_runner(name, settings) for name in names]  # refuse bad settings before loading
    service = PanelService.open(settings)
    asyncio.run(serve_channels(service, settings, runners))
