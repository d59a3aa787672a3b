"""Telegram channel: python-telegram-bot handlers that turn updates into `Inbound` and replies into HTML.

`build_application(service, settings)` wires everything; `run_telegram(service, settings, stop)` serves
it by long polling, or as a webhook route when `TELEGRAM_WEBHOOK_URL` is set (`webhook`). Updates are
received and converted in `inbound`, replies rendered and sent in `render`, and the scheduled jobs
live in `jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from html import escape
from typing import cast

from aiohttp import web
from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot.channels.server import new_app, start_site
from bot.channels.telegram.context import SERVICE_KEY, SETTINGS_KEY, BotContext
from bot.channels.telegram.context import PanelApplication as PanelApplication  # re-exported
from bot.channels.telegram.inbound import ChatOrderProcessor as ChatOrderProcessor  # re-exported
from bot.channels.telegram.inbound import (
    TolerantUpdatesRequest,
    download_document,
    is_group,
    meant_for_another_bot,
    to_inbound,
)
from bot.channels.telegram.jobs import on_startup
from bot.channels.telegram.render import send_reply
from bot.channels.telegram.webhook import TelegramWebhook, webhook_route, webhook_secret
from bot.chat.message import ChatService, Document, Inbound, Reply
from bot.chat.service import GENERIC_ERROR
from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY)
"""The only update kinds the bot asks Telegram for; anything else that arrives is ignored."""
TYPING_AFTER = 0.3
"""Seconds of composing before `typing…` shows: quick replies spend none of the rate limit on it."""
TYPING_EVERY = 4.5
"""Telegram shows a chat action for five seconds; repeat it while a reply is still being composed."""


# -- delivery -----------------------------------------------------------------


async def keep_typing(bot: ExtBot[int], chat_id: int) -> None:
    """Show `typing…` from `TYPING_AFTER` seconds on, until cancelled."""
    await asyncio.sleep(TYPING_AFTER)
    while True:
        try:
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as error:  # a missing indicator must not fail the reply
            logger.debug("chat action failed in %s: %s", chat_id, error)
        await asyncio.sleep(TYPING_EVERY)


async def deliver(context: BotContext, inbound: Inbound, *, chat_id: int, reply_to: int | None) -> int:
    """Send the service's replies to one inbound, typing while each is composed; return how many."""
    replies: AsyncIterator[Reply] = aiter(context.service.handle(inbound))
    sent = 0
    try:
        while True:
            typing = asyncio.create_task(keep_typing(context.bot, chat_id))
            try:
                reply = await anext(replies)
            except StopAsyncIteration:
                return sent
            finally:
                typing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await typing
            await send_reply(context.bot, chat_id, reply, reply_to=reply_to)
            sent += 1
    finally:
        close = getattr(replies, "aclose", None)
        if close is not None:
            await close()


async def answer(update: Update, context: BotContext, *, document: Document | None = None) -> None:
    """Hand a message to the service and send back its replies (quoting the message in groups)."""
    message = update.message
    inbound = to_inbound(
        update,
        bot_id=context.bot.id,
        bot_username=context.bot.username,
        admin_ids=context.settings.telegram_admin_ids,
        document=document,
    )
    if inbound is None or message is None:
        return
    reply_to = message.message_id if inbound.is_group else None
    await deliver(context, inbound, chat_id=message.chat.id, reply_to=reply_to)


# -- handlers ------------------------------------------------------------------


async def start_command(update: Update, context: BotContext) -> None:
    """Greets the user and says what the bot can do."""
    await answer(update, context)


async def help_command(update: Update, context: BotContext) -> None:
    """Lists the commands."""
    await answer(update, context)


async def personas_command(update: Update, context: BotContext) -> None:
    """Lists the personas with a button each; `/personas 名字` shows one profile."""
    await answer(update, context)


async def with_command(update: Update, context: BotContext) -> None:
    """Starts (`/with 名字`) or ends (`/with off`) a conversation with one persona."""
    await answer(update, context)


async def ask_command(update: Update, context: BotContext) -> None:
    """Asks one persona one question (`/ask 名字 问题`)."""
    await answer(update, context)


async def who_command(update: Update, context: BotContext) -> None:
    """Says who said a sentence, with the source."""
    await answer(update, context)


async def sources_command(update: Update, context: BotContext) -> None:
    """Lists the source documents."""
    await answer(update, context)


async def quote_command(update: Update, context: BotContext) -> None:
    """Sends a random cited quote, of one persona with `/quote 名字`."""
    await answer(update, context)


async def subscribe_command(update: Update, context: BotContext) -> None:
    """Subscribes the chat to a daily quote (`/subscribe 08:00`)."""
    await answer(update, context)


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    """Ends the chat's daily quote."""
    await answer(update, context)


async def debate_command(update: Update, context: BotContext) -> None:
    """Stages a debate on a proposition, one message per turn."""
    await answer(update, context)


async def map_command(update: Update, context: BotContext) -> None:
    """Shows who stands where on a proposition, grouped by side, a source button per claim."""
    await answer(update, context)


async def stop_command(update: Update, context: BotContext) -> None:
    """Stops the chat's debate."""
    await answer(update, context)


async def reload_command(update: Update, context: BotContext) -> None:
    """Reloads sources and personas (admins only) and reports what changed."""
    await answer(update, context)


async def addsource_command(update: Update, context: BotContext) -> None:
    """Adds the attached document as a source (admins only) and reports what changed."""
    message, user = update.message, update.effective_user
    if message is None or user is None or meant_for_another_bot(message, context.bot.username):
        return
    document = None
    # Only admins' files are fetched; the service answers everybody else with its refusal.
    if message.document is not None and user.id in context.settings.telegram_admin_ids:
        document = await download_document(message, max_bytes=context.settings.max_source_bytes)
    await answer(update, context, document=document)


async def stats_command(update: Update, context: BotContext) -> None:
    """Shows usage figures (admins only)."""
    await answer(update, context)


async def other_command(update: Update, context: BotContext) -> None:
    """Answers a command the bot does not have; in groups only when it names this bot."""
    message = update.message
    if message is None or meant_for_another_bot(message, context.bot.username):
        return
    if is_group(message) and "@" not in (message.text or "").split(maxsplit=1)[0]:
        return  # likely meant for another bot in the group
    await answer(update, context)


async def text_message(update: Update, context: BotContext) -> None:
    """Answers plain text: always in private chats, in groups only when the bot is addressed."""
    await answer(update, context)


async def button_callback(update: Update, context: BotContext) -> None:
    """Handles a pressed inline button."""
    query = update.callback_query
    if query is None:
        return
    # Telegram keeps the button spinning until the query is answered, even with nothing to say.
    await query.answer()
    inbound = to_inbound(
        update,
        bot_id=context.bot.id,
        bot_username=context.bot.username,
        admin_ids=context.settings.telegram_admin_ids,
    )
    if inbound is None or query.message is None:
        return
    await deliver(context, inbound, chat_id=query.message.chat.id, reply_to=None)


async def report_error(update: object, context: BotContext) -> None:
    """Logs an error and tells the user, with the error's own message when it has one."""
    error = context.error
    if isinstance(error, Forbidden):  # blocked by the user or removed from the group: nobody to tell
        logger.info("update %s: %s", getattr(update, "update_id", "?"), error)
        return
    if isinstance(error, BotError):
        logger.warning("update %s failed: %s", getattr(update, "update_id", "?"), error)
        text = error.user_message
    else:
        logger.error("update %s failed: %s", getattr(update, "update_id", "?"), error, exc_info=error)
        text = GENERIC_ERROR
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, escape(text), parse_mode=ParseMode.HTML)
    except TelegramError as send_error:
        logger.warning("could not tell chat %s about the error: %s", chat.id, send_error)


# -- wiring ------------------------------------------------------------------------


def build_application(service: ChatService, settings: Settings) -> PanelApplication:
    """Build the PTB application; registers handlers, the error handler and startup hooks."""
    application = cast(
        PanelApplication,
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .get_updates_request(TolerantUpdatesRequest(connection_pool_size=1))
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_rate_limit, max_retries=3))
        .concurrent_updates(ChatOrderProcessor(settings.telegram_concurrent_updates))
        .context_types(ContextTypes(context=BotContext))
        .post_init(on_startup)
        .build(),
    )
    application.bot_data[SERVICE_KEY] = service
    application.bot_data[SETTINGS_KEY] = settings
    only_messages = filters.UpdateType.MESSAGE
    commands = {
        "start": start_command,
        "help": help_command,
        "personas": personas_command,
        "with": with_command,
        "ask": ask_command,
        "who": who_command,
        "sources": sources_command,
        "quote": quote_command,
        "subscribe": subscribe_command,
        "unsubscribe": unsubscribe_command,
        "debate": debate_command,
        "stop": stop_command,
        "map": map_command,
        "reload": reload_command,
        "addsource": addsource_command,
        "stats": stats_command,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=only_messages))
    application.add_handler(
        MessageHandler(
            only_messages & filters.Document.ALL & filters.CaptionRegex(r"^/addsource(@\w+)?(\s|$)"),
            addsource_command,
        )
    )
    application.add_handler(MessageHandler(only_messages & filters.COMMAND, other_command))
    application.add_handler(MessageHandler(only_messages & filters.TEXT & ~filters.COMMAND, text_message))
    application.add_handler(CallbackQueryHandler(button_callback))
    application.add_error_handler(report_error)
    return application


async def run_telegram(service: ChatService, settings: Settings, stop: asyncio.Event) -> None:
    """Serve Telegram until `stop` is set: long polling, or a webhook route when a webhook URL is set.

    Raises:
        ConfigError: webhook mode without a usable `TELEGRAM_WEBHOOK_SECRET` (checked before anything starts).
    """
    secret = webhook_secret(settings) if settings.telegram_webhook_url else ""
    await serve_application(build_application(service, settings), service, settings, stop, secret=secret)


async def serve_application(
    application: PanelApplication,
    service: ChatService,
    settings: Settings,
    stop: asyncio.Event,
    *,
    secret: str,
) -> None:
    """Run a built application until `stop` is set; with a `secret`, as a webhook, else by polling."""
    runner: web.AppRunner | None = None
    async with application:
        await on_startup(application)
        await application.start()
        try:
            if secret:
                site = new_app()
                route = webhook_route(settings)
                webhook = TelegramWebhook(application, secret=secret, first_delivery=service.first_delivery)
                site.router.add_post(route, webhook.handle)
                runner = await start_site(
                    site, host=settings.telegram_webhook_listen, port=settings.telegram_webhook_port
                )
                await application.bot.set_webhook(
                    settings.telegram_webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
                )
                logger.info("serving Telegram webhook on %s", route)
            else:
                assert application.updater is not None  # built with the default updater
                await application.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
                logger.info("serving Telegram by long polling")
            await stop.wait()
        finally:
            if runner is not None:
                await runner.cleanup()
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            await application.stop()
