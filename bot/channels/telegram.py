"""Telegram channel: python-telegram-bot handlers that turn updates into `Inbound` and replies into HTML.

`build_application(service, settings)` wires everything; `serve(service, settings)` runs it by long
polling, or as a webhook server when `TELEGRAM_WEBHOOK_URL` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from html import escape
from http import HTTPStatus
from typing import Any, TypeAlias, cast
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, FileSizeLimit, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.channels.telegram_render import keyboard, render_reply
from bot.errors import AdapterError, BotError
from bot.message import ChatService, Document, Inbound, Reply, parse_command
from bot.scheduler import JOB_RELOAD, daily_quote_job, daily_quote_text, daily_time, reload_if_changed
from bot.service import COMMANDS, GENERIC_ERROR, PanelService
from bot.settings import Settings
from bot.store import Subscription

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
SERVICE_KEY = "service"
SETTINGS_KEY = "settings"
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY)
"""The only update kinds the bot asks Telegram for; anything else that arrives is ignored."""
TYPING_AFTER = 0.3
"""Seconds of composing before `typing…` shows: quick replies spend none of the rate limit on it."""
TYPING_EVERY = 4.5
"""Telegram shows a chat action for five seconds; repeat it while a reply is still being composed."""
URGENT_COMMANDS = frozenset({"stop"})
"""Commands that act on what the chat is already doing, so they must not wait behind it."""
JOB_SYNC = "sync_daily_quotes"
SYNC_EVERY = dt.timedelta(minutes=1)


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


class ChatOrderProcessor(BaseUpdateProcessor):
    """Process updates of different chats concurrently and those of one chat in arrival order.

    `/stop` jumps the queue: it has to reach a debate that is still running in the same chat.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: defaultdict[int, int] = defaultdict(int)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handlers once the chat's earlier updates are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or jumps_queue(update):
            await coroutine
            return
        self._users[chat.id] += 1
        try:
            async with self._locks[chat.id]:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def jumps_queue(update: object) -> bool:
    """Whether an update is handled at once rather than after the chat's earlier updates."""
    message = update.message if isinstance(update, Update) else None
    text = message.text if message is not None else None
    return bool(text) and parse_command(text or "")[0] in URGENT_COMMANDS


class TolerantUpdatesRequest(HTTPXRequest):
    """The `getUpdates` connection; an update PTB cannot parse is reduced to its bare id.

    PTB parses a `getUpdates` batch as a whole: one update it cannot read (a newer Bot API field,
    a truncated object) fails the batch before the offset moves, so every later poll fetches and
    fails on it again and the bot goes silent. A bare `{"update_id": n}` matches no handler and
    lets polling move past it.
    """

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Fetch updates and defuse those that cannot be parsed."""
        code, payload = await super().do_request(url, method, *args, **kwargs)
        return code, defuse_updates(payload) if code == HTTPStatus.OK else payload


def defuse_updates(payload: bytes) -> bytes:
    """Return a `getUpdates` response with every unparseable update reduced to its id."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    kept: list[object] = []
    for item in result:
        try:
            Update.de_json(item, None)
        except Exception as error:  # whatever PTB raises on data it does not understand
            update_id = item.get("update_id") if isinstance(item, dict) else None
            logger.warning("skipping update %s that cannot be parsed: %r", update_id, error)
            if not isinstance(update_id, int):
                continue
            item = {"update_id": update_id}
        kept.append(item)
    if kept == result:
        return payload
    return json.dumps({**body, "result": kept}).encode()


# -- updates → inbound -------------------------------------------------------


def qualified(platform_id: int) -> str:
    """Return a platform-qualified id such as `telegram:12345`."""
    return f"{PLATFORM}:{platform_id}"


def is_group(message: Message) -> bool:
    """Whether the message was sent in a group or supergroup."""
    return message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def meant_for_another_bot(message: Message, bot_username: str) -> bool:
    """Whether a captioned command names another bot (`/addsource@other_bot`).

    CommandHandler checks this for text commands; a document's caption needs it done by hand.
    """
    head = (message.caption or message.text or "").split(maxsplit=1)[:1]
    _, at, name = head[0].partition("@") if head else ("", "", "")
    return bool(at) and name.casefold() != bot_username.casefold()


def addressed_text(message: Message, *, bot_id: int, bot_username: str) -> tuple[bool, str]:
    """Return whether a group message is meant for the bot, and its text without the bot's mention."""
    text = message.text or ""
    replied = message.reply_to_message
    addressed = bool(replied and replied.from_user and replied.from_user.id == bot_id)
    handle = f"@{bot_username}".casefold()
    mentions = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, value in mentions.items():
        if (entity.type == MessageEntity.MENTION and value.casefold() == handle) or (
            entity.user is not None and entity.user.id == bot_id
        ):
            addressed = True
            text = text.replace(value, "", 1)
    return addressed, text.strip()


def to_inbound(
    update: Update,
    *,
    bot_id: int,
    bot_username: str,
    admin_ids: frozenset[int],
    document: Document | None = None,
) -> Inbound | None:
    """Convert an update to a neutral `Inbound`; None for updates the bot ignores.

    Ignored: updates without a message or a human sender, edited messages and channel posts
    (PTB's `effective_message` would return those too).
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    query = update.callback_query
    if query is not None:
        if query.message is None or query.data is None:
            return None
        chat = query.message.chat
        return Inbound(
            user_id=qualified(user.id),
            chat_id=qualified(chat.id),
            is_group=chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
            is_admin=user.id in admin_ids,
            callback=query.data,
        )
    message = update.message
    if message is None:
        return None
    text = message.text if message.text is not None else (message.caption or "")
    command, args = parse_command(text)
    if command is None:
        args = ""
    addressed = True
    if command is None and is_group(message):
        addressed, text = addressed_text(message, bot_id=bot_id, bot_username=bot_username)
    return Inbound(
        user_id=qualified(user.id),
        chat_id=qualified(message.chat.id),
        text=text.strip(),
        command=command,
        args=args,
        is_group=is_group(message),
        addressed=addressed,
        is_admin=user.id in admin_ids,
        document=document,
    )


async def download_document(message: Message, *, max_bytes: int) -> Document:
    """Fetch the message's document through the Bot API, refusing files over `max_bytes`."""
    document = message.document
    if document is None:
        raise AdapterError("no document attached", user_message="请把文件作为附件发送，说明写 /addsource。")
    limit = min(max_bytes, FileSizeLimit.FILESIZE_DOWNLOAD)
    name = document.file_name or f"{document.file_unique_id}.txt"
    if document.file_size is not None and document.file_size > limit:
        raise AdapterError(
            f"document {name} has {document.file_size} bytes, over {limit}",
            user_message=f"文件“{name}”太大（{document.file_size} 字节），上限是 {limit} 字节。",
        )
    data = bytes(await (await document.get_file()).download_as_bytearray())
    if len(data) > limit:
        raise AdapterError(
            f"document {name} has {len(data)} bytes, over {limit}",
            user_message=f"文件“{name}”太大（{len(data)} 字节），上限是 {limit} 字节。",
        )
    return Document(filename=name, data=data)


# -- replies → telegram -------------------------------------------------------


async def send_reply(bot: ExtBot[int], chat_id: int, reply: Reply, *, reply_to: int | None = None) -> None:
    """Send one reply as HTML messages; the first quotes `reply_to`, the last carries the buttons."""
    chunks = render_reply(reply)
    for number, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(reply.buttons) if number == len(chunks) - 1 else None,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None and number == 0
                else None
            ),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )


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


# -- startup, jobs ---------------------------------------------------------------


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


def webhook_path(url: str) -> str:
    """Return the path part of the webhook URL, which the local server listens on."""
    return urlparse(url).path.strip("/")


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Return the arguments of `run_webhook` / `Updater.start_webhook` the settings call for."""
    secret = settings.telegram_webhook_secret.get_secret_value()
    return {
        "listen": settings.telegram_webhook_listen,
        "port": settings.telegram_webhook_port,
        "url_path": webhook_path(settings.telegram_webhook_url),
        "webhook_url": settings.telegram_webhook_url,
        # With a secret, PTB answers 403 to every request whose X-Telegram-Bot-Api-Secret-Token differs.
        "secret_token": secret or None,
        "allowed_updates": list(ALLOWED_UPDATES),
    }


def serve(service: ChatService, settings: Settings) -> None:
    """Run the bot until interrupted: long polling, or a webhook server when a webhook URL is set."""
    application = build_application(service, settings)
    if not settings.telegram_webhook_url:
        logger.info("serving Telegram by long polling")
        application.run_polling(allowed_updates=list(ALLOWED_UPDATES))
        return
    options = webhook_options(settings)
    logger.info(
        "serving Telegram webhook on %s:%s/%s", options["listen"], options["port"], options["url_path"]
    )
    application.run_webhook(**options)
