"""Load benchmark of the Telegram channel: N concurrent chats through a local Bot API stand-in.

    python deploy/bench_telegram.py --chats 20 --messages 5

Each chat behaves like a person: it sends a question, waits until the bot has answered it, then
sends the next. Everything runs on 127.0.0.1 through the real python-telegram-bot HTTP stack (with
its rate limiter) and the real `PanelService` over the configured seeds, personas and index
(`--service echo` swaps in an instant service to measure the adapter alone). Prints JSON:
updates handled per second and reply latencies (first reply, and the whole answer) in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import TypeHandler  # noqa: E402

from bot.bench import SAMPLE_QUESTIONS  # noqa: E402
from bot.channels.telegram.app import ALLOWED_UPDATES, build_application  # noqa: E402
from bot.chat.message import ChatService, Inbound, Reply  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.bot_api_stand_in import TOKEN, BotApiStandIn  # noqa: E402

FIRST_CHAT = 10_000
TIMEOUT = 120.0
"""Longest the whole run may take before it gives up."""


class EchoService:
    """An instant service: one reply per message, to measure the adapter without the panel."""

    async def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        """Echo the text back."""
        yield Reply(f"收到：{inbound.text}[1]", kind="answer", title="回声", sources=("[1] 回声",))


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run(chats: int, messages: int, service_name: str, rate_limit: int) -> dict[str, Any]:
    """Drive the bot with `chats` concurrent chats of `messages` questions each; return the figures."""
    settings = Settings()
    service: ChatService
    if service_name == "panel":
        from bot.chat.service import PanelService

        started = time.monotonic()
        service = await asyncio.to_thread(PanelService.open, settings)
        open_seconds = time.monotonic() - started
    else:
        service, open_seconds = EchoService(), 0.0

    done: dict[int, float] = {}
    changed = asyncio.Condition()

    async def mark(update: object, context: object) -> None:
        if isinstance(update, Update):
            done[update.update_id] = time.monotonic()
        async with changed:
            changed.notify_all()

    async def handled(update_id: int) -> float:
        """Wait until every handler of the update ran; return when."""
        async with changed:
            await changed.wait_for(lambda: update_id in done)
        return done[update_id]

    async with BotApiStandIn() as api:
        settings = settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_base_url": api.base_url,
                "telegram_base_file_url": api.base_file_url,
                "telegram_admin_ids": frozenset(),
                "telegram_jobs": False,
                "telegram_rate_limit": rate_limit,
            }
        )
        app = build_application(service, settings)
        app.add_handler(TypeHandler(object, mark), group=99)
        first_reply: list[float] = []
        complete: list[float] = []

        async def chat(number: int) -> None:
            chat_id = FIRST_CHAT + number
            for turn in range(messages):
                question = SAMPLE_QUESTIONS[(number + turn) % len(SAMPLE_QUESTIONS)]
                sent_before = len(api.sent(chat_id))
                enqueued = time.monotonic()
                update_id = api.enqueue_text(question, chat_id=chat_id, user_id=chat_id)
                complete.append((await handled(update_id) - enqueued) * 1000)
                replies = [c for c in api.requests("sendMessage") if int(c.params["chat_id"]) == chat_id]
                if len(replies) > sent_before:
                    first_reply.append((replies[sent_before].at - enqueued) * 1000)

        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
            )
            started = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*(chat(n) for n in range(chats))), TIMEOUT)
            seconds = time.monotonic() - started
            await app.updater.stop()
            await app.stop()

    updates = chats * messages
    return {
        "service": service_name,
        "chats": chats,
        "messages_per_chat": messages,
        "updates": updates,
        "replies": len(api.requests("sendMessage")),
        "chat_actions": len(api.requests("sendChatAction")),
        "seconds": round(seconds, 3),
        "updates_per_s": round(updates / seconds, 2),
        "first_reply_ms": {
            "p50": round(statistics.median(first_reply), 1),
            "p95": round(percentile(first_reply, 0.95), 1),
        },
        "complete_ms": {
            "p50": round(statistics.median(complete), 1),
            "p95": round(percentile(complete, 0.95), 1),
            "max": round(max(complete), 1),
        },
        "concurrent_updates": settings.telegram_concurrent_updates,
        "rate_limit_per_s": rate_limit or None,
        "service_open_s": round(open_seconds, 2),
    }


def main() -> int:
    """Parse the arguments, run the benchmark once and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=20, help="concurrent chats (default 20)")
    parser.add_argument("--messages", type=int, default=5, help="questions per chat (default 5)")
    parser.add_argument("--service", choices=["panel", "echo"], default="panel", help="default: panel")
    parser.add_argument(
        "--rate-limit", type=int, default=30, help="messages/s across chats, as in production (0: off)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(run(args.chats, args.messages, args.service, args.rate_limit))
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
