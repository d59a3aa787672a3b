"""The Telegram channel end to end: real python-telegram-bot over HTTP against a local Bot API stand-in.

Updates flow in through `getUpdates` and replies out through `sendMessage`, `answerCallbackQuery` and
`getFile`; behind the adapter are the real `PanelService` and `Panel` over the made-up articles in
`tests/articles`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import TypeHandler

from bot.channels.telegram.app import (
    ALLOWED_UPDATES,
    ChatOrderProcessor,
    PanelApplication,
    build_application,
    run_telegram,
    serve_application,
)
from bot.channels.telegram.render import MESSAGE_LIMIT, render_reply
from bot.chat.message import Inbound, Reply
from bot.chat.service import PanelService
from bot.chat.store import Store
from bot.cli import main
from bot.errors import ConfigError
from bot.panel import Panel
from bot.settings import Settings, get_settings
from tests.bot_api_stand_in import BOT_USERNAME, TOKEN, BotApiStandIn

ADMIN, USER, OTHER, GROUP = 1001, 2002, 3003, -100500
NEW_INTERVIEW = """林墨：AI教育访谈

记者：您怎么看AI进入课堂？

林墨：我认为AI最适合做个性化辅导，让每个学生按自己的节奏学习。

记者：老师会被取代吗？

林墨：不会，老师的价值在于激发兴趣和陪伴成长，这是机器做不到的。
"""

integration = pytest.mark.integration


# -- fixtures -------------------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


def telegram_settings(base: Settings, api: BotApiStandIn, **changes: Any) -> Settings:
    return base.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_base_url": api.base_url,
            "telegram_base_file_url": api.base_file_url,
            "telegram_admin_ids": frozenset({ADMIN}),
            **changes,
        }
    )


@dataclass
class BotHarness:
    """A running application plus helpers that send an update and wait until it was fully handled."""

    api: BotApiStandIn
    service: PanelService
    settings: Settings
    app: PanelApplication | None = None
    processed: set[int] = field(default_factory=set)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def mark(self, update: object, context: object) -> None:
        """Runs after every other handler of an update (a later handler group)."""
        if isinstance(update, Update):
            self.processed.add(update.update_id)
        async with self.changed:
            self.changed.notify_all()

    async def handled(self, update_id: int, *, timeout: float = 15.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: update_id in self.processed), timeout)

    async def send(self, update_id: int, *, chat: int) -> list[dict[str, Any]]:
        """Wait until the update was handled; return what was sent to the chat meanwhile."""
        before = len(self.api.sent(chat))
        await self.handled(update_id)
        return self.api.sent(chat)[before:]

    async def say(
        self,
        text: str,
        *,
        chat: int = USER,
        user: int = USER,
        group: bool = False,
        reply_to_bot: bool = False,
    ) -> list[dict[str, Any]]:
        before = len(self.api.sent(chat))
        update_id = self.api.enqueue_text(
            text, chat_id=chat, user_id=user, group=group, reply_to_bot=reply_to_bot
        )
        await self.handled(update_id)
        return self.api.sent(chat)[before:]

    async def press(self, data: str, *, chat: int = USER, user: int = USER) -> list[dict[str, Any]]:
        before = len(self.api.sent(chat))
        update_id = self.api.enqueue_callback(data, chat_id=chat, user_id=user)
        await self.handled(update_id)
        return self.api.sent(chat)[before:]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PanelApplication]:
        """Build the application and poll the stand-in until the block ends."""
        app = build_application(self.service, self.settings)
        app.add_handler(TypeHandler(object, self.mark), group=99)
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.05, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
            )
            self.app = app
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()
                self.app = None


@pytest.fixture
async def bot(
    api: BotApiStandIn, service: PanelService, corpus_settings: Settings
) -> AsyncIterator[BotHarness]:
    harness = BotHarness(api, service, telegram_settings(corpus_settings, api))
    async with harness.running():
        yield harness


@pytest.fixture
async def own_bot(
    api: BotApiStandIn, fresh_service: PanelService, fresh_settings: Settings
) -> AsyncIterator[BotHarness]:
    """A bot over its own copy of the corpus, for tests that change the sources."""
    harness = BotHarness(api, fresh_service, telegram_settings(fresh_settings, api))
    async with harness.running():
        yield harness


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(key["text"], key["callback_data"]) for row in rows for key in row]


class TagChecker(HTMLParser):
    """Collects tags to check that a message's HTML is balanced."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.balanced = self.balanced and bool(self.open) and self.open.pop() == tag


def balanced(html: str) -> bool:
    checker = TagChecker()
    checker.feed(html)
    return checker.balanced and not checker.open


# -- rendering (offline) -------------------------------------------------------------


def test_render_escapes_user_and_source_text() -> None:
    reply = Reply("你问的是 <b>&</b> 吗？[1]", title="A&B <i>", sources=("[1] 标题<script> · 媒体&",))
    (html,) = render_reply(reply)
    assert html.startswith("<b>A&amp;B &lt;i&gt;</b>")
    assert "你问的是 &lt;b&gt;&amp;&lt;/b&gt; 吗？[1]" in html
    assert "[1] 标题&lt;script&gt; · 媒体&amp;" in html
    assert balanced(html)


def test_render_lists_each_source_once_with_its_markers() -> None:
    reply = Reply(
        "甲[1]乙[2]丙[3]", sources=("[1] 访谈 · 日报 · 2024", "[2] 演讲 · 大会", "[3] 访谈 · 日报 · 2024")
    )
    (html,) = render_reply(reply)
    assert "[1][3] 访谈 · 日报 · 2024\n[2] 演讲 · 大会" in html


def test_render_splits_long_text_between_paragraphs_under_the_limit() -> None:
    paragraphs = [f"第{n}段：" + "观点" * 300 + f"[{n}]" for n in range(1, 9)]
    reply = Reply("\n\n".join(paragraphs), title="标题", sources=tuple(f"[{n}] 来源{n}" for n in range(1, 9)))
    chunks = render_reply(reply)
    assert len(chunks) > 1
    assert all(len(chunk) <= MESSAGE_LIMIT and balanced(chunk) for chunk in chunks)
    text = "\n\n".join(chunks)
    assert all(paragraph in text for paragraph in paragraphs)  # no paragraph was cut
    assert "[8] 来源8" in chunks[-1]


def test_render_keeps_messages_under_the_limit_when_escaping_grows_them() -> None:
    chunks = render_reply(Reply("&<>" * 3000))
    assert all(len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    assert "".join(chunks).count("&amp;") == 3000


def test_render_counts_emoji_as_telegram_does() -> None:
    chunks = render_reply(Reply("😀" * 3000))
    assert len(chunks) == 2
    assert all(len(chunk.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for chunk in chunks)


async def test_processor_serialises_one_chat_and_overlaps_chats() -> None:
    events: list[str] = []

    async def work(name: str, pause: float) -> None:
        events.append(f"{name}+")
        await asyncio.sleep(pause)
        events.append(f"{name}-")

    def update(update_id: int, chat_id: int) -> Update:
        chat = {"id": chat_id, "type": "private", "first_name": "测试"}
        message = {"message_id": update_id, "date": 1, "chat": chat, "text": "x"}
        return Update.de_json({"update_id": update_id, "message": message}, None)

    processor = ChatOrderProcessor(8)
    await asyncio.gather(
        processor.process_update(update(1, 1), work("a1", 0.05)),
        processor.process_update(update(2, 1), work("a2", 0.0)),
        processor.process_update(update(3, 2), work("b1", 0.0)),
    )
    assert events.index("a2+") > events.index("a1-")  # same chat: in order
    assert events.index("b1-") < events.index("a1-")  # other chat: not held up


async def test_processor_lets_stop_overtake_a_running_debate() -> None:
    events: list[str] = []
    chat = {"id": 1, "type": "private", "first_name": "测试"}

    async def work(name: str, pause: float) -> None:
        events.append(f"{name}+")
        await asyncio.sleep(pause)
        events.append(f"{name}-")

    def update(update_id: int, text: str) -> Update:
        message = {"message_id": update_id, "date": 1, "chat": chat, "text": text}
        return Update.de_json({"update_id": update_id, "message": message}, None)

    processor = ChatOrderProcessor(8)
    await asyncio.gather(
        processor.process_update(update(1, "/debate 命题"), work("debate", 0.05)),
        processor.process_update(update(2, "/stop"), work("stop", 0.0)),
    )
    assert events.index("stop-") < events.index("debate-")


# -- end to end ------------------------------------------------------------------------


@integration
async def test_start_and_help_are_answered_in_html(bot: BotHarness) -> None:
    (start,) = await bot.say("/start")
    (help_,) = await bot.say("/help")
    assert start["parse_mode"] == "HTML" and "嘉宾" in start["text"]
    assert "/with" in help_["text"] and "/reload" not in help_["text"]
    public, admin = (call.params for call in bot.api.requests("setMyCommands"))
    assert (public["scope"], admin["scope"]) == ({"type": "default"}, {"type": "chat", "chat_id": ADMIN})
    assert "with" in [c["command"] for c in public["commands"]]
    assert "reload" not in [c["command"] for c in public["commands"]]
    assert "reload" in [c["command"] for c in admin["commands"]]


@integration
async def test_unknown_command_gets_help_in_private_and_silence_in_groups(bot: BotHarness) -> None:
    (reply,) = await bot.say("/frobnicate")
    assert "没有 /frobnicate 这个命令" in reply["text"]
    assert await bot.say("/frobnicate", chat=GROUP, group=True) == []
    (named,) = await bot.say(f"/frobnicate@{BOT_USERNAME}", chat=GROUP, group=True)
    assert "没有 /frobnicate 这个命令" in named["text"]


@integration
async def test_question_is_answered_with_citations_and_sources(bot: BotHarness) -> None:
    messages = await bot.say("国产芯片跟英伟达比，差距主要在哪里？")
    html = messages[0]["text"]
    assert "<b>钱文静 · 云杉半导体创始人</b>" in html
    assert "[1]" in html and "差距主要在软件生态" in html
    assert "<b>来源</b>" in html and "[1][2] AI芯片圆桌：国产芯片能不能追上？ · 芯视界 · 2024-06" in html
    assert ("📄[1]", "c:salon:125:153") in buttons(messages[0])


@integration
async def test_persona_button_shows_the_profile(bot: BotHarness) -> None:
    (listing,) = await bot.say("/personas")
    keys = dict(buttons(listing))
    assert "钱文静" in keys and "赵启明" in keys
    (profile,) = await bot.press(keys["钱文静"])
    assert bot.api.requests("answerCallbackQuery")
    assert "<b>钱文静 · 云杉半导体创始人</b>" in profile["text"] and "代表性发言" in profile["text"]


@integration
async def test_with_persona_routes_plain_text_until_off(bot: BotHarness) -> None:
    (chosen,) = await bot.say("/with 赵启明")
    assert "由赵启明回答" in chosen["text"]
    answer = await bot.say("价格战对行业有什么影响？")
    assert "<b>赵启明" in answer[0]["text"] and "[1]" in answer[0]["text"]
    (off,) = await bot.say("/with off")
    assert "已结束单独对话" in off["text"]
    assert bot.service.store.active_persona(f"telegram:{USER}") is None


@integration
async def test_ask_who_sources_and_quote(bot: BotHarness) -> None:
    asked = await bot.say("/ask 钱文静 国产芯片的差距在哪里？")
    assert "<b>钱文静" in asked[0]["text"] and "[1]" in asked[0]["text"]
    (who,) = await bot.say("/who 通用助手的竞争太激烈了")
    assert "这句话出自郑思远" in who["text"]
    (sources,) = await bot.say("/sources")
    assert "来源（4 篇）" in sources["text"] and "钱文静" in sources["text"]
    (quote,) = await bot.say("/quote")
    assert "[1]" in quote["text"] and "<b>来源</b>" in quote["text"]


@integration
async def test_group_message_is_answered_only_when_addressed(bot: BotHarness) -> None:
    assert await bot.say("国产芯片跟英伟达比，差距主要在哪里？", chat=GROUP, group=True) == []
    update_id = bot.api.enqueue_text(
        f"@{BOT_USERNAME} 国产芯片跟英伟达比，差距在哪里？", chat_id=GROUP, user_id=USER, group=True
    )
    mentioned = await bot.send(update_id, chat=GROUP)
    assert "钱文静" in mentioned[0]["text"]
    assert mentioned[0]["reply_parameters"]["message_id"] > 0
    replied = await bot.say("那创业公司还有机会吗？", chat=GROUP, group=True, reply_to_bot=True)
    assert replied and "reply_parameters" in replied[0]
    (sources,) = await bot.say(f"/sources@{BOT_USERNAME}", chat=GROUP, group=True)
    assert "来源（4 篇）" in sources["text"]
    assert await bot.say("/sources@some_other_bot", chat=GROUP, group=True) == []


@integration
async def test_overlong_question_gets_a_clear_error_and_the_bot_carries_on(bot: BotHarness) -> None:
    (error,) = await bot.say("芯" * 10_000)
    assert "消息太长了" in error["text"]
    assert await bot.say("/sources")


@integration
async def test_html_in_user_text_is_escaped(bot: BotHarness) -> None:
    (reply,) = await bot.say("/with <b>&</b>")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in reply["text"]
    assert "<b>&</b>" not in reply["text"]


@integration
async def test_a_failed_send_is_reported_once_and_the_bot_carries_on(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot.api.fail_next("sendMessage", description="Bad Request: can't parse entities")
    failed, apology = await bot.say("/sources")  # the stand-in records the refused call too
    assert "来源（4 篇）" in failed["text"] and apology["text"] == "抱歉，出了点问题，请稍后再试。"
    assert "Can't parse entities" in caplog.text
    (sources,) = await bot.say("/sources")
    assert "来源（4 篇）" in sources["text"]


@integration
async def test_malformed_updates_are_skipped(bot: BotHarness) -> None:
    chat = {"id": USER, "type": "private", "first_name": "测试"}
    sender = {"id": USER, "is_bot": False, "first_name": "测试"}
    skipped = [
        bot.api.enqueue({}),
        bot.api.enqueue(
            {
                "edited_message": {
                    "message_id": 1,
                    "date": 1,
                    "edit_date": 2,
                    "chat": chat,
                    "from": sender,
                    "text": "/start",
                }
            }
        ),
        bot.api.enqueue(
            {
                "channel_post": {
                    "message_id": 2,
                    "date": 1,
                    "chat": {"id": -1009, "type": "channel", "title": "频道"},
                    "text": "/start",
                }
            }
        ),
        bot.api.enqueue({"message": {"message_id": 3, "date": 1, "chat": chat, "text": "没有发送者"}}),
        bot.api.enqueue(
            {
                "message": {
                    "message_id": 4,
                    "date": 1,
                    "chat": chat,
                    "from": {**sender, "is_bot": True},
                    "text": "机器人",
                }
            }
        ),
        bot.api.enqueue(
            {"callback_query": {"id": "9", "from": sender, "chat_instance": "1", "data": "p:zhao-qi-ming"}}
        ),
        bot.api.enqueue(
            {
                "poll": {
                    "id": "1",
                    "question": "?",
                    "options": [],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                }
            }
        ),
    ]
    (answered,) = await bot.say("/sources")
    assert all(update_id in bot.processed for update_id in skipped)
    assert "来源（4 篇）" in answered["text"]
    assert len(bot.api.sent()) == 1


@integration
async def test_admin_reload_reports_the_diff(own_bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.channels.telegram.app.TYPING_AFTER", 0.0)  # this small reload is quick
    before = own_bot.service.panel
    (refusal,) = await own_bot.say("/reload", chat=OTHER, user=OTHER)
    assert "只有管理员" in refusal["text"] and own_bot.service.panel is before

    (own_bot.settings.seeds_dir / "lin_mo.txt").write_text(NEW_INTERVIEW, encoding="utf-8")
    started, report = await own_bot.say("/reload", chat=ADMIN, user=ADMIN)
    assert "正在重新加载" in started["text"]
    assert "重新加载完成" in report["text"] and "新增 1（林墨）" in report["text"]
    assert own_bot.service.panel is not before
    # The reload takes a while: `typing…` shows between the two replies.
    calls = [c for c in own_bot.api.calls if c.method in ("sendMessage", "sendChatAction")]
    assert [c.method for c in calls[-3:]] == ["sendMessage", "sendChatAction", "sendMessage"]
    assert calls[-2].params == {"chat_id": ADMIN, "action": "typing"}


@integration
async def test_admin_adds_a_source_by_document(own_bot: BotHarness) -> None:
    update_id = own_bot.api.enqueue_document(
        "lin_mo.txt", NEW_INTERVIEW.encode(), chat_id=OTHER, user_id=OTHER
    )
    (refusal,) = await own_bot.send(update_id, chat=OTHER)
    assert "只有管理员" in refusal["text"] and not own_bot.api.requests("getFile")

    update_id = own_bot.api.enqueue_document(
        "lin_mo.txt", NEW_INTERVIEW.encode(), chat_id=ADMIN, user_id=ADMIN
    )
    started, report = await own_bot.send(update_id, chat=ADMIN)
    assert [c.method for c in own_bot.api.calls if c.method in ("getFile", "downloadFile")] == [
        "getFile",
        "downloadFile",
    ]
    assert "正在添加 lin_mo.txt" in started["text"]
    assert "已添加来源 lin_mo" in report["text"] and "林墨" in report["text"]
    assert (own_bot.settings.seeds_dir / "lin_mo.txt").read_text(encoding="utf-8") == NEW_INTERVIEW
    answer = await own_bot.say("老师会被AI取代吗？", chat=ADMIN, user=ADMIN)
    assert "林墨" in answer[0]["text"]


@integration
async def test_document_for_another_bot_is_left_alone(bot: BotHarness) -> None:
    update_id = bot.api.enqueue_document(
        "lin_mo.txt",
        NEW_INTERVIEW.encode(),
        chat_id=GROUP,
        user_id=ADMIN,
        group=True,
        caption="/addsource@other_bot",
    )
    assert await bot.send(update_id, chat=GROUP) == []
    assert not bot.api.requests("getFile")


@integration
async def test_one_chats_updates_are_handled_in_order(bot: BotHarness) -> None:
    first = bot.api.enqueue_text("/with 赵启明", chat_id=USER, user_id=USER)
    question = bot.api.enqueue_text("价格战对行业有什么影响？", chat_id=USER, user_id=USER)
    other = bot.api.enqueue_text("/sources", chat_id=OTHER, user_id=OTHER)
    for update_id in (first, question, other):
        await bot.handled(update_id)
    chosen, answer = bot.api.sent(USER)[:2]
    assert "由赵启明回答" in chosen["text"] and "<b>赵启明" in answer["text"]
    assert "来源（4 篇）" in bot.api.sent(OTHER)[0]["text"]


@integration
async def test_too_large_document_is_refused_before_download(bot: BotHarness) -> None:
    update_id = bot.api.enqueue_document(
        "big.txt", b"x", chat_id=ADMIN, user_id=ADMIN, declared_size=50_000_000
    )
    (error,) = await bot.send(update_id, chat=ADMIN)
    assert "太大" in error["text"] and "big.txt" in error["text"]
    assert not bot.api.requests("getFile")


@integration
async def test_scheduled_jobs_send_daily_quote_and_tell_admins_of_a_reload(own_bot: BotHarness) -> None:
    (subscribed,) = await own_bot.say("/subscribe 08:30")
    assert "每天 08:30" in subscribed["text"]
    app = own_bot.app
    assert app is not None and app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name(f"daily_quote:telegram:{USER}")
    await job.run(app)
    assert "今日语录" in own_bot.api.sent(USER)[-1]["text"]

    (own_bot.settings.seeds_dir / "lin_mo.txt").write_text(NEW_INTERVIEW, encoding="utf-8")
    (reload_job,) = app.job_queue.get_jobs_by_name("reload_personas")
    await reload_job.run(app)
    told = own_bot.api.sent(ADMIN)[-1]["text"]
    assert "<b>定时重新加载</b>" in told and "林墨" in told

    (unsubscribed,) = await own_bot.say("/unsubscribe")
    assert "已取消" in unsubscribed["text"]
    await asyncio.sleep(0)
    assert not [
        j
        for j in app.job_queue.get_jobs_by_name(f"daily_quote:telegram:{USER}")
        if j.enabled and not j.removed
    ]


@integration
async def test_restart_keeps_chat_state_and_subscriptions(
    api: BotApiStandIn, corpus_settings: Settings, panel: Panel, tmp_path: Path
) -> None:
    settings = telegram_settings(corpus_settings, api, data_dir=tmp_path / "data")
    store = Store.open(settings)
    first = BotHarness(api, PanelService(panel, store, settings), settings)
    async with first.running():
        await first.say("/with 赵启明")
        await first.say("/subscribe 07:45")
    store.close()

    store = Store.open(settings)
    second = BotHarness(api, PanelService(panel, store, settings), settings)
    try:
        async with second.running() as app:
            assert app.job_queue is not None
            (job,) = app.job_queue.get_jobs_by_name(f"daily_quote:telegram:{USER}")
            assert job.data.hhmm == "07:45"
            (current,) = await second.say("/with")
            assert "你正在和赵启明对话" in current["text"]
            answer = await second.say("价格战对行业有什么影响？")
            assert re.search(r"<b>赵启明", answer[0]["text"])
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command_update(api: BotApiStandIn, update_id: int, text: str, *, user: int = USER) -> dict[str, Any]:
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            **api.message(chat_id=user, user_id=user),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


@contextlib.asynccontextmanager
async def webhook_bot(
    api: BotApiStandIn, service: PanelService, base: Settings, *, secret: str = "s3cret"
) -> AsyncIterator[tuple[BotHarness, str]]:
    """Serve the webhook route on a free port; yield the harness and the webhook URL."""
    port = free_port()
    settings = telegram_settings(
        base,
        api,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        telegram_webhook_secret=SecretStr(secret),
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    )
    harness = BotHarness(api, service, settings)
    app = build_application(harness.service, settings)
    app.add_handler(TypeHandler(object, harness.mark), group=99)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_application(app, service, settings, stop, secret=secret))
    try:
        await api.wait_for("setWebhook", 1)
        yield harness, settings.telegram_webhook_url
    finally:
        stop.set()
        await task


async def test_webhook_mode_refuses_to_start_without_a_secret(
    api: BotApiStandIn, corpus_settings: Settings, service: PanelService
) -> None:
    settings = telegram_settings(corpus_settings, api, telegram_webhook_url="https://example.org/hook")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        await run_telegram(service, settings, asyncio.Event())
    assert api.requests("setWebhook") == [] and api.requests("getMe") == []


def test_run_without_a_webhook_secret_exits_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://example.org/hook")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")
    get_settings.cache_clear()
    try:
        assert main(["run"]) == 1
    finally:
        get_settings.cache_clear()
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err


@integration
async def test_webhook_refuses_updates_without_the_secret_even_from_an_admin(
    api: BotApiStandIn, corpus_settings: Settings, service: PanelService
) -> None:
    async with webhook_bot(api, service, corpus_settings) as (harness, url):
        (registered,) = api.requests("setWebhook")
        assert registered.params["url"] == url and registered.params["secret_token"] == "s3cret"
        forged = command_update(api, 76, "/stats", user=ADMIN)
        async with aiohttp.ClientSession() as session:
            for secret in (None, "wrong", "s3cret-but-longer"):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with session.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            async with session.post(
                url, json=command_update(api, 77, "/sources"), headers=headers
            ) as response:
                assert response.status == 200
        await harness.handled(77)
        assert 76 not in harness.processed
        assert [m["text"] for m in api.sent(USER)][-1].startswith("<b>来源（4 篇）</b>")
        assert api.sent(ADMIN) == []


@integration
async def test_webhook_refuses_an_oversized_body_before_reading_it(
    api: BotApiStandIn, corpus_settings: Settings, service: PanelService
) -> None:
    async with webhook_bot(api, service, corpus_settings) as (_, url):
        port = int(url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Declares 100 MB and sends none of it: an answer at once proves nothing was buffered.
        writer.write(
            b"POST /telegram/hook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: s3cret\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert status_line.split()[1] == b"413"
        async with aiohttp.ClientSession() as session:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret", "Content-Type": "application/json"}

            async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to go by
                for _ in range(40):
                    yield b" " * 65536

            async with session.post(url, data=chunks(), headers=headers) as response:
                assert response.status == 413


@integration
async def test_webhook_answers_an_unparseable_update_and_handles_a_replay_once(
    api: BotApiStandIn, corpus_settings: Settings, service: PanelService, caplog: pytest.LogCaptureFixture
) -> None:
    async with webhook_bot(api, service, corpus_settings) as (harness, url):
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            for body in (b"{not json", b'{"no_update_id": true}', b"[1, 2]"):
                with caplog.at_level("WARNING", logger="bot.channels.telegram.webhook"):
                    async with session.post(url, data=body, headers=headers) as response:
                        assert response.status == 200
            assert caplog.text.count("unparseable webhook update") == 3
            update = command_update(api, 90, "/sources")
            for _ in range(3):  # Telegram redelivers when it thinks the first try failed
                async with session.post(url, json=update, headers=headers) as response:
                    assert response.status == 200
        await harness.handled(90)
        await asyncio.sleep(0.3)
        assert len([m for m in api.sent(USER) if m["text"].startswith("<b>来源")]) == 1


@integration
async def test_debate_is_sent_one_message_per_turn(bot: BotHarness) -> None:
    turns = await bot.say("/debate 国产芯片能追上英伟达")
    assert len(turns) >= 3
    assert turns[0]["text"].startswith("<b>主持人</b>") and "国产芯片能追上英伟达" in turns[0]["text"]
    spoken = [t["text"] for t in turns[1:-1]]
    assert any("<b>钱文静（反方）</b>" in text and "[1]" in text and "<b>来源</b>" in text for text in spoken)
    assert "辩论结束" in turns[-1]["text"]
    assert all(balanced(t["text"]) and t["parse_mode"] == "HTML" for t in turns)


class SlowDebateService:
    """A stand-in service whose `/debate` speaks a turn every 0.2 s until `/stop`.

    The real debate is covered by the service's tests; this one times the adapter's side of it.
    """

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        if inbound.command == "stop":
            self.stopped.set()
            yield Reply("好的，辩论会在当前发言结束后停止。")
            return
        for turn in range(1, 6):
            await asyncio.sleep(0.2)
            yield Reply(f"第{turn}轮发言[1]", kind="debate", title=f"嘉宾{turn}", sources=("[1] 来源",))
            if self.stopped.is_set():
                yield Reply("辩论已停止。")
                return


@integration
async def test_debate_turns_arrive_with_typing_between_and_stop_overtakes(
    api: BotApiStandIn, corpus_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.channels.telegram.app.TYPING_AFTER", 0.05)
    harness = BotHarness(api, SlowDebateService(), telegram_settings(corpus_settings, api))  # type: ignore[arg-type]
    async with harness.running():
        debate = api.enqueue_text("/debate 开源模型能追上闭源模型", chat_id=USER, user_id=USER)
        await api.wait_for("sendMessage", 2)
        stop = api.enqueue_text("/stop", chat_id=USER, user_id=USER)
        await harness.handled(stop)
        await harness.handled(debate)
    texts = api.sent_texts(USER)
    assert texts[0].startswith("<b>嘉宾1</b>\n\n第1轮发言[1]")
    assert "好的，辩论会在当前发言结束后停止。" in texts and texts[-1] == "辩论已停止。"
    assert len([text for text in texts if "轮发言" in text]) < 5  # stopped before the last turn
    methods = [c.method for c in api.calls if c.method in ("sendMessage", "sendChatAction")]
    first, second = [i for i, method in enumerate(methods) if method == "sendMessage"][:2]
    assert "sendChatAction" in methods[first:second]  # typing while the next turn is composed


# -- the command line ------------------------------------------------------------------


def test_run_without_a_token_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", "")
    get_settings.cache_clear()
    try:
        assert main(["run"]) == 1
    finally:
        get_settings.cache_clear()
    assert "TELEGRAM_TOKEN is not set" in capsys.readouterr().err


@integration
async def test_panelbot_run_polls_answers_stops_on_sigint_and_never_logs_the_token(
    api: BotApiStandIn, corpus_settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "TELEGRAM_ADMIN_IDS": str(ADMIN),
        "TELEGRAM_WEBHOOK_URL": "",
        "DATA_DIR": str(tmp_path / "data"),
        "SEEDS_DIR": str(corpus_settings.seeds_dir),
        "PERSONAS_DIR": str(corpus_settings.personas_dir),
        "DATABASE_URL": "",
        "CHROMA_HOST": "",
        "LLM_BASE_URL": "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "-v", "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await api.wait_for("getUpdates", 1, timeout=30)
        api.enqueue_text("/sources", chat_id=USER, user_id=USER)
        (sent,) = await api.wait_for("sendMessage", 1, timeout=15)
        assert "来源（4 篇）" in sent.params["text"]
        assert [c.params["scope"]["type"] for c in api.requests("setMyCommands")] == ["default", "chat"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode()
    logged = stderr.decode()
    assert "/bot***/getUpdates" in logged  # httpx logs every request URL at -v
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_map_is_one_message_grouped_by_side_with_a_source_button_per_claim(bot: BotHarness) -> None:
    (message,) = await bot.say("/map 国产芯片能追上英伟达")

    text = message["text"]
    assert message["parse_mode"] == "HTML" and balanced(text)
    assert "<b>立场图</b>" in text and "钱文静" in text and "<b>来源</b>" in text
    labels = [label for label, _ in buttons(message)]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert cited and {f"📄[{n}]" for n in cited} <= set(labels)
