"""WeChat's scheduled job: the daily quotes of `订阅 HH:MM`, pushed through the customer-service API.

WeChat lets an account push only within 48 hours of the user's last message and within the quota
(`dispatch.PUSH_LIMIT`), so a daily quote reaches users who wrote recently; the others are skipped
until they write again. Every replica may run the job: each quote is claimed once per day in the
store, like an inbound message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from bot.channels.wechat.dispatch import Dispatcher
from bot.channels.wechat.inbound import PLATFORM
from bot.channels.wechat.render import render_parts
from bot.chat.scheduler import daily_quote_text
from bot.chat.service import PanelService

logger = logging.getLogger(__name__)

CHECK_EVERY = 30.0
"""Seconds between looks at the subscriptions."""
LATE_BY = dt.timedelta(minutes=5)
"""A quote whose minute was missed (a slow loop, a restart) still goes out this long after it."""


async def send_daily_quotes(service: PanelService, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    """Push the daily quotes that are due, every `CHECK_EVERY` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            await push_due_quotes(service, dispatcher, now=dt.datetime.now(dt.UTC))
        except Exception:
            logger.exception("daily quotes failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_EVERY)


async def push_due_quotes(service: PanelService, dispatcher: Dispatcher, *, now: dt.datetime) -> int:
    """Push today's quote to each WeChat subscriber whose time has come; return how many were sent."""
    sent = 0
    for subscription in await asyncio.to_thread(service.store.subscriptions):
        platform, _, openid = subscription.chat_id.partition(":")
        if platform != PLATFORM or not openid:
            continue
        local = now.astimezone(ZoneInfo(subscription.tz))
        hours, minutes = (int(part) for part in subscription.hhmm.split(":"))
        due = local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        if not due <= local < due + LATE_BY:
            continue
        if not service.first_delivery(f"wechat:daily:{openid}:{due.date().isoformat()}"):
            continue
        parts = render_parts([daily_quote_text(service.panel, rng=service.rng)])
        pushed, _ = await dispatcher.push(openid, parts[:1])
        if pushed:
            sent += 1
        else:
            logger.info("daily quote for %s not pushed (outside WeChat's window or quota)", openid)
    return sent
