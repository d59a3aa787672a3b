"""Telegram startup and JobQueue jobs: the command menu, the periodic reload and the daily quotes."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import cast

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import Forbidden, TelegramError
from telegram.ext import JobQueue

from bot.channels.telegram.context import SERVICE_KEY, SETTINGS_KEY, BotContext, PanelApplication
from bot.channels.telegram.inbound import PLATFORM, qualified
from bot.channels.telegram.render import send_reply
from bot.chat.commands import COMMANDS
from bot.chat.message import Reply
from bot.chat.scheduler import JOB_RELOAD, daily_quote_job, daily_quote_text, daily_time, reload_if_changed
from bot.chat.service import PanelService
from bot.chat.store import Subscription
from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)

JOB_SYNC = "sync_daily_quotes"
SYNC_EVERY = dt.timedelta(minutes=1)


def menu(*, admin: bool) -> list[BotCommand]:
    """Return the command menu from the service's command table (admin commands only if `admin`)."""
    return [
        BotCommand(c.name, c.summary if c.usage == f"/{c.name}" else f"{c.summary}：{c.usage}")
        for c in COMMANDS.values()
        if c.listed and (admin or not c.admin)
    ]


async def set_commands(application: PanelApplication) -> None:
    """Publish the command menu; admins also see the admin commands."""
    settings = cast(Settings, application.bot_data[SETTINGS_KEY])
    await application.bot.set_my_commands(menu(admin=False), scope=BotCommandScopeDefault())
    for admin_id in sorted(settings.telegram_admin_ids):
        try:
            await application.bot.set_my_commands(menu(admin=True), scope=BotCommandScopeChat(admin_id))
        except TelegramError as error:  # the admin has not opened a chat with the bot yet
            logger.info("admin commands not set for %s: %s", admin_id, error)


async def on_startup(application: PanelApplication) -> None:
    """Publish the command menu and restore the scheduled jobs."""
    await set_commands(application)
    schedule_jobs(application)


def panel_service(application: PanelApplication) -> PanelService | None:
    """Return the application's service when it is a `PanelService` (which jobs need), else None."""
    service = application.bot_data.get(SERVICE_KEY)
    return service if isinstance(service, PanelService) else None


def schedule_jobs(application: PanelApplication) -> None:
    """Schedule the periodic reload and every subscription's daily quote, under stable job names.

    Safe to call again: jobs of the same name are replaced. With `telegram_jobs` off (every replica
    but one) nothing is scheduled.
    """
    settings = cast(Settings, application.bot_data[SETTINGS_KEY])
    service = panel_service(application)
    job_queue = application.job_queue
    if service is None or job_queue is None or not settings.telegram_jobs:
        return
    for name in (JOB_RELOAD, JOB_SYNC):
        for job in job_queue.get_jobs_by_name(name):
            job.schedule_removal()
    every = dt.timedelta(minutes=settings.reload_interval_minutes)
    job_queue.run_repeating(reload_personas, interval=every, first=every, name=JOB_RELOAD)
    # Subscriptions made through another replica reach this process through the shared store.
    job_queue.run_repeating(sync_daily_quotes, interval=SYNC_EVERY, first=SYNC_EVERY, name=JOB_SYNC)

    def subscription_changed(chat_id: str, subscription: Subscription | None) -> None:
        """Schedule or cancel one chat's daily quote as soon as it (un)subscribes."""
        schedule_daily_quote(job_queue, chat_id, subscription)

    service.subscription_listener = subscription_changed
    restore_daily_quotes(job_queue, service.store.subscriptions())


def telegram_chat(chat_id: str) -> int | None:
    """Return the Telegram chat id of a platform-qualified id, None for other platforms."""
    platform, _, number = chat_id.partition(":")
    return int(number) if platform == PLATFORM and number.lstrip("-").isdigit() else None


def schedule_daily_quote(
    job_queue: JobQueue[BotContext], chat_id: str, subscription: Subscription | None
) -> None:
    """Replace the chat's `daily_quote:<chat>` job by one at the subscription's time (none if None)."""
    chat = telegram_chat(chat_id)
    if chat is None:
        return
    name = daily_quote_job(chat_id)
    current = job_queue.get_jobs_by_name(name)
    if subscription is not None and [job.data for job in current] == [subscription]:
        return
    for job in current:
        job.schedule_removal()
    if subscription is not None:
        job_queue.run_daily(
            send_daily_quote, time=daily_time(subscription), chat_id=chat, name=name, data=subscription
        )
        logger.info("daily quote for %s at %s (%s)", chat_id, subscription.hhmm, subscription.tz)


def restore_daily_quotes(job_queue: JobQueue[BotContext], subscriptions: list[Subscription]) -> None:
    """Make the `daily_quote:<chat>` jobs match the stored subscriptions."""
    wanted = {s.chat_id: s for s in subscriptions if telegram_chat(s.chat_id) is not None}
    for job in job_queue.jobs():
        subscription = job.data
        if isinstance(subscription, Subscription) and subscription.chat_id not in wanted:
            job.schedule_removal()
    for chat_id, subscription in wanted.items():
        schedule_daily_quote(job_queue, chat_id, subscription)


async def sync_daily_quotes(context: BotContext) -> None:
    """Pick up subscriptions made or cancelled through other replicas."""
    service = context.service
    if isinstance(service, PanelService) and context.job_queue is not None:
        subscriptions = await asyncio.to_thread(service.store.subscriptions)
        restore_daily_quotes(cast(JobQueue[BotContext], context.job_queue), subscriptions)


async def send_daily_quote(context: BotContext) -> None:
    """Send a subscribed chat its daily quote; a chat that blocked the bot is unsubscribed."""
    job, service = context.job, context.service
    if job is None or job.chat_id is None or not isinstance(service, PanelService):
        return
    reply = daily_quote_text(service.panel, rng=service.rng)
    try:
        await send_reply(context.bot, job.chat_id, reply)
    except Forbidden:
        logger.info("chat %s blocked the bot; cancelling its daily quote", job.chat_id)
        service.store.unsubscribe(qualified(job.chat_id))
        job.schedule_removal()


async def reload_personas(context: BotContext) -> None:
    """Reload sources and personas when `seeds/` changed, and tell the admins what happened."""
    service = context.service
    if not isinstance(service, PanelService):
        return
    try:
        report = await reload_if_changed(service)
    except BotError as error:
        logger.warning("scheduled reload failed: %s", error)
        await tell_admins(context, Reply(error.user_message, kind="error", title="定时重新加载失败"))
        return
    if report is not None:
        await tell_admins(context, Reply(report.to_text(), kind="admin", title="定时重新加载"))


async def tell_admins(context: BotContext, reply: Reply) -> None:
    """Send a reply to every admin's private chat with the bot."""
    for admin_id in sorted(context.settings.telegram_admin_ids):
        try:
            await send_reply(context.bot, admin_id, reply)
        except TelegramError as error:  # the admin has not opened a chat with the bot
            logger.info("could not tell admin %s: %s", admin_id, error)
