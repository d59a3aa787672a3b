"""The WeChat channel end to end: signed (and encrypted) callbacks over HTTP into a real aiohttp server.

Behind the channel are the real `PanelService` and `Panel` over the made-up articles in
`tests/articles`; WeChat's own servers are the stand-ins of `tests/wechat_stand_in.py` (the
callback sender, which signs and encrypts with wechatpy as WeChat does, and the Official Account
API, which hands out access tokens and records customer-service messages). A slow answer is made
slow by `SlowService`, which wraps the real service and waits before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.channels.runner import channel_runner
from bot.channels.server import start_site
from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.channels.wechat.app import DISPATCHER_KEY, build_app, run_wechat
from bot.channels.wechat.dispatch import NO_SUBSCRIPTION, NON_TEXT, PUSH_LIMIT, PUSH_WINDOW, Dispatcher
from bot.channels.wechat.inbound import CONTINUE, parse_words
from bot.channels.wechat.jobs import push_due_quotes
from bot.channels.wechat.render import (
    MESSAGE_BYTES,
    MORE,
    NOTHING_MORE,
    PROFILE_HINT,
    STILL_WAITING,
    WAITING,
    cdata_safe,
    render_parts,
    utf8_len,
)
from bot.chat.message import Inbound, Reply
from bot.chat.service import ADMIN_ONLY, PanelService
from bot.chat.store import PENDING_DAYS, Store, database_path
from bot.cli import main
from bot.compose.answer import Citation
from bot.errors import ConfigError
from bot.panel import Panel
from bot.settings import Settings, get_settings
from tests.bot_api_stand_in import TOKEN as TELEGRAM_TOKEN
from tests.bot_api_stand_in import BotApiStandIn
from tests.test_store import (
    postgres_server,  # noqa: F401  (the Postgres fixture, for the store tests)
    settings_with,
)
from tests.wechat_stand_in import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    WeChatApiStandIn,
    WeChatSender,
    sign,
)

USER, ADMIN = "o_user_1", "o_admin_1"
QUESTION = "问 赵启明 你怎么看参数规模"
HELP = "帮助"
integration = pytest.mark.integration


# -- harness ---------------------------------------------------------------------


@dataclass
class SlowService:
    """The real service, recording each inbound and answering `delay` seconds late."""

    service: PanelService
    delay: float = 0.0
    gate: asyncio.Event | None = None
    """When set, answers wait until the test opens it."""
    inbounds: list[Inbound] = field(default_factory=list)

    async def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        self.inbounds.append(inbound)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        async for reply in self.service.handle(inbound):
            yield reply

    def first_delivery(self, key: str) -> bool:
        return self.service.first_delivery(key)


def wechat_settings(base: Settings, **changes: Any) -> Settings:
    return base.model_copy(
        update={
            "wechat_token": SecretStr(TOKEN),
            "wechat_app_id": APP_ID,
            "wechat_app_secret": SecretStr(APP_SECRET),
            "wechat_aes_key": SecretStr(AES_KEY),
            "wechat_admin_ids": frozenset({ADMIN}),
            "wechat_path": "/wechat",
            **changes,
        }
    )


@dataclass
class Channel:
    """A running callback server and the WeChat side that talks to it."""

    sender: WeChatSender
    dispatcher: Dispatcher
    store: Store
    url: str


@contextlib.asynccontextmanager
async def serve(
    service: SlowService | PanelService,
    settings: Settings,
    *,
    store: Store,
    api: WeChatApiStandIn | None = None,
    message_bytes: int = MESSAGE_BYTES,
) -> AsyncIterator[Channel]:
    """Serve the channel on a free port of 127.0.0.1 until the block ends."""
    pusher = None
    if settings.wechat_customer_service:
        assert api is not None
        pusher = WeChatApi(base_url=api.base_url, app_id=APP_ID, app_secret=APP_SECRET)
    app = build_app(service, settings, store=store, pusher=pusher, message_bytes=message_bytes)
    runner = await start_site(app, host="127.0.0.1", port=0)
    port = int(runner.addresses[0][1])
    url = f"http://127.0.0.1:{port}/wechat"
    try:
        async with aiohttp.ClientSession() as session:
            yield Channel(WeChatSender(session, url), app[DISPATCHER_KEY], store, url)
    finally:
        await runner.cleanup()
        await app[DISPATCHER_KEY].drain()
        if pusher is not None:
            await pusher.close()


async def until(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
async def api() -> AsyncIterator[WeChatApiStandIn]:
    async with WeChatApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def slow(service: PanelService) -> SlowService:
    return SlowService(service)


@pytest.fixture
async def wechat(slow: SlowService, store: Store, corpus_settings: Settings) -> AsyncIterator[Channel]:
    """The channel in next-message mode (no customer-service API)."""
    async with serve(slow, wechat_settings(corpus_settings), store=store) as channel:
        yield channel


@pytest.fixture
async def cs_wechat(
    slow: SlowService, store: Store, corpus_settings: Settings, api: WeChatApiStandIn
) -> AsyncIterator[Channel]:
    """The channel pushing late answers through the customer-service API stand-in."""
    settings = wechat_settings(corpus_settings, wechat_customer_service=True)
    async with serve(slow, settings, store=store, api=api) as channel:
        yield channel


def slow_settings(base: Settings, **changes: Any) -> Settings:
    """Answers may take 0.3 s to go back in the reply (WeChat's 4 s, scaled down)."""
    return wechat_settings(base, wechat_reply_seconds=0.3, **changes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the callback protocol ------------------------------------------------------------


async def test_url_verification_echoes_echostr_only_with_a_valid_signature(wechat: Channel) -> None:
    session = wechat.sender.session
    query = wechat.sender.signed_query() | {"echostr": "8421733521339848"}
    async with session.get(wechat.url, params=query) as response:
        assert (response.status, await response.text()) == (200, "8421733521339848")
    forged = [
        query | {"signature": sign("another-token", query["timestamp"], query["nonce"])},
        query | {"timestamp": str(int(query["timestamp"]) + 1)},
        {"echostr": "8421733521339848"},
    ]
    for params in forged:
        async with session.get(wechat.url, params=params) as response:
            assert (response.status, await response.text()) == (403, "")


async def test_a_forged_post_is_refused_and_nothing_is_processed(wechat: Channel, slow: SlowService) -> None:
    sender = wechat.sender
    fields = sender.fields("text", openid=ADMIN, Content="/stats")
    query, body = sender.request(fields)
    wrong = query | {"signature": sign("another-token", query["timestamp"], query["nonce"])}
    assert (await sender.post(wrong, body)).status == 403
    assert (await sender.post({}, body)).status == 403
    query, body = sender.request(fields, mode="safe")
    forged_msg = query | {"msg_signature": sign(TOKEN, query["timestamp"], query["nonce"], "other")}
    assert (await sender.post(forged_msg, body)).status == 403
    assert slow.inbounds == []
    # The forged attempts claimed nothing: the genuine message is still answered.
    answered = await sender.send(fields)
    assert answered.status == 200 and answered.content.startswith("统计")


async def test_plain_mode_answers_in_plain_text_with_footnoted_sources(
    wechat: Channel, slow: SlowService
) -> None:
    response = await wechat.sender.text(QUESTION)
    assert response.status == 200
    fields = response.fields
    assert fields is not None and "encrypted" not in fields
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (USER, ACCOUNT, "text")
    content = response.content
    assert content.startswith("赵启明 · 星河智能创始人兼CEO\n\n")
    assert "“我们不追求参数规模，只追求真实场景里的效果。”[1]" in content
    assert content.endswith("来源：\n[1][2][3] 星河智能赵启明：不追参数，只追效果 · 科技日报 · 2024-08-03")
    assert "<" not in content and utf8_len(content) <= MESSAGE_BYTES
    assert slow.inbounds == [
        Inbound(
            user_id=f"wechat:{USER}",
            chat_id=f"wechat:{USER}",
            text=QUESTION,
            command="ask",
            args="赵启明 你怎么看参数规模",
        )
    ]


@pytest.mark.parametrize("mode", ["safe", "compatible"])
async def test_encrypted_messages_are_decrypted_and_answered_encrypted_and_signed(
    wechat: Channel, mode: str
) -> None:
    response = await wechat.sender.text("来源", mode=mode)
    assert response.status == 200
    assert response.fields is not None and response.fields["encrypted"] is True  # signature checked too
    assert response.fields["ToUserName"] == USER
    assert response.content.startswith("来源（4 篇）")


async def test_compatible_mode_without_an_aes_key_is_read_and_answered_in_plain(
    slow: SlowService, store: Store, corpus_settings: Settings
) -> None:
    settings = wechat_settings(corpus_settings, wechat_aes_key=SecretStr(""))
    async with serve(slow, settings, store=store) as channel:
        response = await channel.sender.text("来源", mode="compatible")
        assert response.status == 200 and response.fields is not None
        assert "encrypted" not in response.fields and response.content.startswith("来源（4 篇）")
        # Safe mode carries no plain fields: without the key there is nothing to read.
        assert (await channel.sender.text("来源", mode="safe")).status == 400


async def test_malformed_xml_gets_400_and_the_next_message_is_answered(
    wechat: Channel, slow: SlowService
) -> None:
    sender = wechat.sender
    bodies = [
        b"<xml><ToUserName>gh",
        "不是 XML".encode(),
        b"<xml></xml>",
        b"<xml><MsgType><![CDATA[text]]></MsgType><Content>hi</Content></xml>",  # no sender
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<xml><ToUserName>gh</ToUserName><FromUserName>&b;</FromUserName><MsgType>text</MsgType></xml>",
    ]
    for body in bodies:
        assert (await sender.post(sender.signed_query(), body)).status == 400
    query = sender.signed_query()
    garbage = "bm90IGEgY2lwaGVydGV4dA=="
    query |= {
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, query["timestamp"], query["nonce"], garbage),
    }
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{garbage}</Encrypt></xml>".encode()
    assert (await sender.post(query, body)).status == 400
    assert slow.inbounds == []
    assert (await sender.text("来源")).content.startswith("来源（4 篇）")


async def test_an_oversized_body_gets_413_before_it_is_read(wechat: Channel) -> None:
    sender = wechat.sender
    port = int(wechat.url.split(":")[2].split("/")[0])
    query = sender.signed_query()
    path = f"/wechat?signature={query['signature']}&timestamp={query['timestamp']}&nonce={query['nonce']}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Declares 100 MB and sends none of it: an answer at once proves nothing was buffered.
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
        "Content-Length: 100000000\r\n\r\n".encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.split()[1] == b"413"

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to go by
        for _ in range(20):
            yield b" " * 65536

    async with sender.session.post(wechat.url, params=sender.signed_query(), data=chunks()) as response:
        assert response.status == 413
    assert (await sender.text("来源")).content.startswith("来源（4 篇）")


async def test_three_deliveries_of_one_msg_id_are_answered_once(wechat: Channel, slow: SlowService) -> None:
    fields = wechat.sender.fields("text", Content=QUESTION)
    responses = await asyncio.gather(*(wechat.sender.send(fields) for _ in range(3)))
    assert {r.status for r in responses} == {200}
    assert len({r.content for r in responses}) == 1 and responses[0].content.startswith("赵启明")
    later = await wechat.sender.send(fields)  # a retry after the answer went back gets it again
    assert later.content == responses[0].content
    assert len(slow.inbounds) == 1


# -- late answers ----------------------------------------------------------------------


async def test_a_slow_answer_is_acknowledged_and_delivered_on_the_next_message(
    slow: SlowService, store: Store, corpus_settings: Settings
) -> None:
    slow.delay = 0.6
    async with serve(slow, slow_settings(corpus_settings), store=store) as channel:
        sender = channel.sender
        fields = sender.fields("text", Content=QUESTION)
        first = await sender.send(fields)
        assert first.content == WAITING
        retries = await asyncio.gather(sender.send(fields), sender.send(fields))
        assert [r.content for r in retries] == [WAITING, WAITING]
        await until(lambda: store.pending_count(f"wechat:{USER}") == 1)
        slow.delay = 0.0
        fetched = await sender.text("好")
        assert fetched.content.startswith("赵启明 · 星河智能创始人兼CEO") and "[1]" in fetched.content
        assert (await sender.text("继续")).content == NOTHING_MORE
    assert [i.text for i in slow.inbounds] == [QUESTION]  # "好" fetched the answer; it was not asked


async def test_a_message_sent_while_the_late_answer_composes_waits_for_it(
    slow: SlowService, store: Store, corpus_settings: Settings
) -> None:
    slow.gate = asyncio.Event()
    settings = wechat_settings(corpus_settings, wechat_reply_seconds=0.4)
    async with serve(slow, settings, store=store) as channel:
        assert (await channel.sender.text("来源")).content == WAITING
        waiting = asyncio.create_task(channel.sender.text("1"))  # sent while the answer composes
        await asyncio.sleep(0.1)
        slow.gate.set()
        fetched = await waiting
        assert fetched.content.startswith("来源（4 篇）")
        slow.gate.clear()
        assert (await channel.sender.text("来源")).content == WAITING
        # Nothing finishes within the second message's own time: it is told to come back.
        assert (await channel.sender.text("2")).content == STILL_WAITING
        slow.gate.set()
        await until(lambda: store.pending_count(f"wechat:{USER}") == 1)
        assert (await channel.sender.text("3")).content.startswith("来源（4 篇）")
    assert [i.text for i in slow.inbounds] == ["来源", "来源"]


async def test_a_late_answer_survives_a_restart_and_reaches_the_user_through_another_replica(
    slow: SlowService, store: Store, corpus_settings: Settings, panel: Panel, tmp_path: Path
) -> None:
    slow.delay = 0.6
    settings = slow_settings(corpus_settings)
    other_store = Store(tmp_path / "panelbot.sqlite3")  # a second replica on the same database
    other = SlowService(PanelService(panel, other_store, corpus_settings, rng=random.Random(7)))
    async with (
        serve(slow, settings, store=store) as first,
        serve(other, settings, store=other_store) as second,
    ):
        fields = first.sender.fields("text", Content=QUESTION)
        assert (await first.sender.send(fields)).content == WAITING
        assert (await second.sender.send(fields)).content == WAITING  # a retry reaching the other replica
        await until(lambda: other_store.pending_count(f"wechat:{USER}") == 1)
    other_store.close()
    assert other.inbounds == []
    restarted = Store(tmp_path / "panelbot.sqlite3")
    try:
        again = SlowService(PanelService(panel, restarted, corpus_settings, rng=random.Random(7)))
        async with serve(again, settings, store=restarted) as channel:
            assert (await channel.sender.text("你好")).content.startswith("赵启明 · ")
        assert again.inbounds == []
    finally:
        restarted.close()


async def test_a_slow_answer_is_pushed_through_customer_service_once(
    slow: SlowService, store: Store, corpus_settings: Settings, api: WeChatApiStandIn
) -> None:
    slow.delay = 0.6
    settings = slow_settings(corpus_settings, wechat_customer_service=True)
    async with serve(slow, settings, store=store, api=api) as channel:
        fields = channel.sender.fields("text", Content=QUESTION)
        responses = [await channel.sender.send(fields) for _ in range(3)]  # WeChat's three tries
        assert [(r.status, r.body) for r in responses] == [(200, "success")] * 3
        (pushed,) = await api.wait_for_pushes(1, openid=USER)
        assert pushed.startswith("赵启明 · 星河智能创始人兼CEO") and "来源：" in pushed
        await asyncio.sleep(0.2)
        assert len(api.pushed()) == 1 and len(api.requests("token")) == 1
        assert store.pending_count(f"wechat:{USER}") == 0
    assert len(slow.inbounds) == 1


@pytest.mark.parametrize("errcode", [45015, 45047, 48001])
async def test_a_refused_push_waits_for_the_next_message(
    slow: SlowService, store: Store, corpus_settings: Settings, api: WeChatApiStandIn, errcode: int
) -> None:
    slow.delay = 0.4
    api.fail_next("message/custom/send", errcode)
    settings = wechat_settings(corpus_settings, wechat_customer_service=True, wechat_reply_seconds=0.2)
    async with serve(slow, settings, store=store, api=api) as channel:
        assert (await channel.sender.text(QUESTION)).body == "success"
        await until(lambda: store.pending_count(f"wechat:{USER}") == 1)
        assert api.pushed() == [] and len(api.requests("message/custom/send")) == 1
        slow.delay = 0.0
        assert (await channel.sender.text("在吗")).content.startswith("赵启明 · ")
    assert [i.text for i in slow.inbounds] == [QUESTION]


async def test_the_access_token_is_cached_and_refreshed_when_refused(api: WeChatApiStandIn) -> None:
    now = [1000.0]
    client = WeChatApi(base_url=api.base_url, app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: now[0])
    try:
        await client.send_text(USER, "一")
        await client.send_text(USER, "二")
        assert len(api.requests("token")) == 1  # cached
        api.revoke_tokens()  # as when another process fetched a token: ours answers 40001
        await client.send_text(USER, "三")
        assert len(api.requests("token")) == 2
        api.fail_next("message/custom/send", 42001, "access_token expired")
        await client.send_text(USER, "四")
        assert len(api.requests("token")) == 3
        now[0] += 7200  # past its stated expiry: fetched again before use
        await client.send_text(USER, "五")
        assert len(api.requests("token")) == 4
        assert api.pushed(USER) == ["一", "二", "三", "四", "五"]
        api.fail_next("message/custom/send", 45015, "response out of time limit")
        with pytest.raises(WeChatApiError) as info:
            await client.send_text(USER, "六")
        assert info.value.errcode == 45015
    finally:
        await client.close()
    wrong = WeChatApi(base_url=api.base_url, app_id=APP_ID, app_secret="wrong")
    try:
        with pytest.raises(WeChatApiError) as info:
            await wrong.send_text(USER, "七")
        assert info.value.errcode == 40013
    finally:
        await wrong.close()


async def test_a_slow_answer_refused_with_40001_is_pushed_with_a_fresh_token(
    slow: SlowService, store: Store, corpus_settings: Settings, api: WeChatApiStandIn
) -> None:
    settings = wechat_settings(corpus_settings, wechat_customer_service=True, wechat_reply_seconds=0.2)
    async with serve(slow, settings, store=store, api=api) as channel:
        slow.delay = 0.4
        assert (await channel.sender.text(QUESTION)).body == "success"
        await api.wait_for_pushes(1)
        api.revoke_tokens()
        assert (await channel.sender.text("来源")).body == "success"
        pushed = await api.wait_for_pushes(2)
    assert pushed[1].startswith("来源（4 篇）")
    assert len(api.requests("token")) == 2 and len(api.requests("message/custom/send")) == 3


# -- long answers --------------------------------------------------------------------


def test_a_long_reply_is_split_into_messages_under_2048_bytes() -> None:
    paragraphs = [f"第{n}段：" + "开源模型正在快速追赶闭源模型，这是我们的判断。" * 12 for n in range(30)]
    citations = tuple(Citation(n, "qa_interview", n, n + 5, "direct", "引文") for n in (1, 2))
    reply = Reply(
        "\n\n".join(paragraphs),
        kind="answer",
        title="赵启明 · 星河智能创始人兼CEO",
        citations=citations,
        sources=(
            "[1] 星河智能赵启明：不追参数，只追效果 · 科技日报",
            "[2] 星河智能赵启明：不追参数，只追效果 · 科技日报",
        ),
    )
    parts = render_parts([reply, Reply("第二条回复")])
    assert len(parts) > 5
    assert all(utf8_len(part + "\n\n" + MORE) <= MESSAGE_BYTES for part in parts)
    assert parts[0].startswith("赵启明 · 星河智能创始人兼CEO")
    assert all(p in "".join(parts) for p in paragraphs)  # split between paragraphs, nothing lost
    assert parts[-1].endswith("来源：\n[1][2] 星河智能赵启明：不追参数，只追效果 · 科技日报\n\n第二条回复")


async def test_a_long_answer_is_split_and_continued_with_jixu(
    slow: SlowService, store: Store, corpus_settings: Settings
) -> None:
    async with serve(slow, wechat_settings(corpus_settings), store=store, message_bytes=300) as channel:
        first = (await channel.sender.text(HELP)).content
        assert first.endswith("\n\n" + MORE) and first.startswith("使用说明")
        parts = [first]
        while parts[-1].endswith(MORE):
            parts.append((await channel.sender.text("继续")).content)
        assert (await channel.sender.text("继续")).content == NOTHING_MORE
        # Another question drops what was left of an answer the user moved on from.
        assert (await channel.sender.text(HELP)).content.endswith(MORE)
        assert (await channel.sender.text("退订")).content.startswith("你还没有订阅每日语录")
        assert (await channel.sender.text("继续")).content == NOTHING_MORE
    assert len(parts) >= 3 and all(utf8_len(part) <= 300 for part in parts)
    assert parts[-1].endswith("帮助　使用说明")  # the last line of the guide: nothing lost at the end
    assert [i.command for i in slow.inbounds] == ["help", "help", "unsubscribe"]


async def test_a_long_late_answer_is_pushed_in_parts_within_the_quota(
    slow: SlowService, store: Store, corpus_settings: Settings, api: WeChatApiStandIn
) -> None:
    slow.delay = 0.4
    settings = wechat_settings(corpus_settings, wechat_customer_service=True, wechat_reply_seconds=0.2)
    async with serve(slow, settings, store=store, api=api, message_bytes=150) as channel:
        assert (await channel.sender.text(HELP)).body == "success"
        pushed = await api.wait_for_pushes(PUSH_LIMIT)
        await until(lambda: store.pending_count(f"wechat:{USER}") > 0)
        assert len(api.pushed()) == PUSH_LIMIT  # WeChat's quota: 5 after each message of the user
        assert [p.endswith(MORE) for p in pushed] == [False] * (PUSH_LIMIT - 1) + [True]
        rest = [(await channel.sender.text("继续")).content]
        while rest[-1].endswith(MORE):
            rest.append((await channel.sender.text("继续")).content)
    assert all(utf8_len(text) <= 150 for text in pushed + rest)
    assert pushed[0].startswith("使用说明") and rest[-1].endswith("帮助　使用说明")


# -- commands and events -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "command", "args"),
    [
        ("问 李涛 开源怎么看", "ask", "李涛 开源怎么看"),
        ("问：李涛 开源怎么看", "ask", "李涛 开源怎么看"),
        ("辩论 开源模型能追上闭源模型", "debate", "开源模型能追上闭源模型"),
        ("立场 开源模型能追上闭源模型", "map", "开源模型能追上闭源模型"),
        ("人物", "personas", ""),
        ("人物 李涛", "personas", "李涛"),
        ("来源", "sources", ""),
        ("订阅 08:30", "subscribe", "08:30"),
        ("退订", "unsubscribe", ""),
        ("帮助", "help", ""),
        ("继续。", CONTINUE, ""),
        ("/continue", CONTINUE, ""),
        ("/ask 李涛 开源", "ask", "李涛 开源"),
        ("问题是开源能不能赢", None, ""),
        ("人物访谈里谁谈过芯片", None, ""),
    ],
)
def test_command_words_map_to_the_chat_core_commands(typed: str, command: str | None, args: str) -> None:
    assert parse_words(typed) == (command, args)


async def test_plain_text_commands_reach_the_chat_core(cs_wechat: Channel, slow: SlowService) -> None:
    sender = cs_wechat.sender
    expected = {
        "人物": "嘉宾（7 位）",
        "人物 赵启明": "赵启明 · 星河智能创始人兼CEO",
        "来源": "来源（4 篇）",
        "订阅 08:30": "好的，每天 08:30（Asia/Shanghai）给你发一条嘉宾语录。",
        "退订": "已取消每日语录。",
        "帮助": "使用说明",
        QUESTION: "赵启明 · ",
        "/sources": "来源（4 篇）",
    }
    for typed, start in expected.items():
        content = (await sender.text(typed)).content
        assert content.startswith(start), (typed, content)
    personas = (await sender.text("人物")).content
    assert personas.endswith(PROFILE_HINT) and "点下面" not in personas
    help_text = (await sender.text("帮助")).content
    assert "问 名字 问题" in help_text and "订阅 08:30" in help_text
    await sender.text("立场 开源模型能追上闭源模型")
    assert (slow.inbounds[-1].command, slow.inbounds[-1].args) == ("map", "开源模型能追上闭源模型")
    assert {i.user_id for i in slow.inbounds} == {f"wechat:{USER}"}


async def test_user_text_echoed_in_a_reply_cannot_break_its_xml(cs_wechat: Channel) -> None:
    for mode in ("plain", "safe"):
        response = await cs_wechat.sender.text("订阅 08:30 ]]><Content>x</Content>", mode=mode)
        assert response.content == "不认识时区“]]><Content>x</Content>”，请使用如 Asia/Shanghai 这样的名称。"
    assert cdata_safe("出自原文\x01\x0b：]]>") == "出自原文：]]]]><![CDATA[>"  # XML 1.0 forbids \x01, \x0b


async def test_subscribing_without_customer_service_is_explained(wechat: Channel, slow: SlowService) -> None:
    assert (await wechat.sender.text("订阅 08:30")).content == NO_SUBSCRIPTION
    assert "订阅 08:30" not in (await wechat.sender.text("帮助")).content
    assert [i.command for i in slow.inbounds] == ["help"]


async def test_admin_commands_follow_wechat_admin_ids(wechat: Channel) -> None:
    assert (await wechat.sender.text("/stats", openid=ADMIN)).content.startswith("统计")
    assert (await wechat.sender.text("/stats")).content == ADMIN_ONLY


async def test_non_text_messages_get_a_friendly_line(wechat: Channel, slow: SlowService) -> None:
    sender = wechat.sender
    messages = [
        sender.fields("image", PicUrl="http://mmbiz.example/1.jpg", MediaId="m1"),
        sender.fields("voice", MediaId="m2", Format="amr"),
        sender.fields("location", Location_X="39.9", Location_Y="116.4", Scale=15, Label="北京"),
        sender.fields("video", MediaId="m3", ThumbMediaId="t3"),
    ]
    for fields in messages:
        assert (await sender.send(fields)).content == NON_TEXT
    recognised = sender.fields("voice", MediaId="m4", Format="amr", Recognition="来源")
    assert (await sender.send(recognised)).content.startswith("来源（4 篇）")
    assert [i.command for i in slow.inbounds] == ["sources"]


async def test_following_the_account_gets_the_welcome_once(wechat: Channel, slow: SlowService) -> None:
    follow = wechat.sender.fields("event", Event="subscribe", EventKey="")
    welcome = await wechat.sender.send(follow)
    assert welcome.content.startswith("使用说明\n\n我是嘉宾圆桌机器人")
    assert "问 名字 问题" in welcome.content
    assert (await wechat.sender.send(follow)).content == welcome.content  # WeChat's retry
    unfollow = wechat.sender.fields("event", Event="unsubscribe", EventKey="")
    assert (await wechat.sender.send(unfollow)).body == "success"
    assert [(i.command, i.user_id) for i in slow.inbounds] == [("start", f"wechat:{USER}")]


async def test_the_daily_quote_is_pushed_once_at_its_time(
    cs_wechat: Channel, service: PanelService, api: WeChatApiStandIn
) -> None:
    assert (await cs_wechat.sender.text("订阅 08:30")).content.startswith("好的")
    at = dt.datetime(2024, 9, 1, 0, 31, tzinfo=dt.UTC)  # 08:31 in Asia/Shanghai
    assert await push_due_quotes(service, cs_wechat.dispatcher, now=at - dt.timedelta(minutes=2)) == 0
    assert await push_due_quotes(service, cs_wechat.dispatcher, now=at) == 1
    assert await push_due_quotes(service, cs_wechat.dispatcher, now=at + dt.timedelta(minutes=1)) == 0
    (quote,) = api.pushed(USER)
    assert "\n\n今日语录：“" in quote and "来源：\n[1] " in quote


# -- pending deliveries in the store, on SQLite and Postgres ------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "state.sqlite3"
    server = request.getfixturevalue("postgres_server")
    return database_path(settings_with(tmp_path, server.new_database()))


def two_stores(target: Path | str, clock: Callable[[], float]) -> tuple[Store, Store]:
    """Two connections to one database, as two replicas have."""
    return Store(target, clock=clock), Store(target, clock=clock)


def test_pending_deliveries_are_taken_once_in_order_across_connections(target: Path | str) -> None:
    now = [1_000_000.0]
    first, second = two_stores(target, lambda: now[0])
    try:
        first.queue_pending("wechat:u", ["a1", "a2"], late=False)
        assert second.next_pending("wechat:u", continuing=False) is None  # moved on: the rest is dropped
        assert first.pending_count("wechat:u") == 0
        first.queue_pending("wechat:u", ["b1", "b2"], late=False)
        first.queue_pending("wechat:u", ["l1", "l2"], late=True)
        first.queue_pending("wechat:u", ["m1"], late=True)
        first.queue_pending("wechat:other", ["x"], late=True)
        taken = second.next_pending("wechat:u", continuing=False)  # the late answer, past b1 b2
        assert taken is not None and (taken.text, taken.late, taken.left) == ("l1", True, 2)
        taken = first.next_pending("wechat:u", continuing=True)
        assert taken is not None and (taken.text, taken.late, taken.left) == ("l2", False, 1)
        taken = second.next_pending("wechat:u", continuing=False)
        assert taken is not None and (taken.text, taken.left) == ("m1", 0)
        assert first.next_pending("wechat:u", continuing=True) is None
        assert second.pending_count("wechat:other") == 1
        now[0] += PENDING_DAYS * 86400 + 1
        assert first.next_pending("wechat:other", continuing=False) is None  # too old
    finally:
        first.close()
        second.close()


def test_the_push_quota_is_five_within_48_hours_of_the_last_message(target: Path | str) -> None:
    now = [1_000_000.0]
    first, second = two_stores(target, lambda: now[0])
    quota = {"limit": PUSH_LIMIT, "window": PUSH_WINDOW}
    try:
        assert first.claim_push("wechat:u", **quota) is False  # never wrote
        first.open_push_window("wechat:u")
        assert [s.claim_push("wechat:u", **quota) for s in (first, second) * 3] == [True] * 5 + [False]
        assert second.pushes_left("wechat:u", **quota) == 0
        now[0] += 3600
        second.open_push_window("wechat:u")  # the user wrote again
        assert first.pushes_left("wechat:u", **quota) == PUSH_LIMIT
        now[0] += PUSH_WINDOW + 1
        assert first.claim_push("wechat:u", **quota) is False
        assert first.pushes_left("wechat:u", **quota) == 0
    finally:
        first.close()
        second.close()


# -- running it ----------------------------------------------------------------------------------


def test_the_runner_refuses_wechat_without_its_settings(corpus_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="WECHAT_TOKEN"):
        channel_runner("wechat", corpus_settings.model_copy(update={"wechat_token": SecretStr("")}))
    with pytest.raises(ConfigError, match="WECHAT_AES_KEY"):
        channel_runner("wechat", wechat_settings(corpus_settings, wechat_aes_key=SecretStr("short")))
    with pytest.raises(ConfigError, match="WECHAT_APP_SECRET"):
        channel_runner(
            "wechat",
            wechat_settings(corpus_settings, wechat_customer_service=True, wechat_app_secret=SecretStr("")),
        )
    assert channel_runner("wechat", wechat_settings(corpus_settings)) is run_wechat


def test_wechat_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WECHAT_HOST", "WECHAT_PORT", "WECHAT_PATH", "WECHAT_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WECHAT_ADMIN_IDS", " o_admin_1, o_admin_2 ,")
    monkeypatch.setenv("WECHAT_CUSTOMER_SERVICE", "true")
    monkeypatch.setenv("WECHAT_APP_SECRET", "s3cret-app")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.wechat_admin_ids == frozenset({"o_admin_1", "o_admin_2"})
    assert settings.wechat_customer_service is True
    assert (settings.wechat_host, settings.wechat_port, settings.wechat_path) == ("0.0.0.0", 8080, "/wechat")
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com/cgi-bin/"
    assert "s3cret-app" in settings.secret_values()  # masked in every log line


def test_run_wechat_without_a_token_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WECHAT_TOKEN", "")
    get_settings.cache_clear()
    try:
        assert main(["run", "--channel", "wechat"]) == 1
    finally:
        get_settings.cache_clear()
    assert "WECHAT_TOKEN is not set" in capsys.readouterr().err


async def test_run_wechat_serves_the_callback_until_stopped(
    service: PanelService, corpus_settings: Settings, api: WeChatApiStandIn
) -> None:
    port = free_port()
    settings = wechat_settings(
        corpus_settings,
        wechat_host="127.0.0.1",
        wechat_port=port,
        wechat_customer_service=True,
        wechat_api_base_url=api.base_url,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_wechat(service, settings, stop))
    try:
        async with aiohttp.ClientSession() as session:
            sender = WeChatSender(session, f"http://127.0.0.1:{port}/wechat")
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    response = await sender.text("来源", mode="safe")
                    break
                await asyncio.sleep(0.05)
            assert response.content.startswith("来源（4 篇）")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@integration
async def test_panelbot_run_all_serves_telegram_and_wechat_together(
    corpus_settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    async with BotApiStandIn() as telegram, aiohttp.ClientSession() as session:
        env = {
            **os.environ,
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
            "TELEGRAM_WEBHOOK_URL": "",
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_HOST": "127.0.0.1",
            "WECHAT_PORT": str(port),
            "WECHAT_PATH": "/wx/callback",
            "DATA_DIR": str(tmp_path / "data"),
            "SEEDS_DIR": str(corpus_settings.seeds_dir),
            "PERSONAS_DIR": str(corpus_settings.personas_dir),
            "DATABASE_URL": "",
            "CHROMA_HOST": "",
            "LLM_BASE_URL": "",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--channel", "all", cwd=tmp_path, env=env,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await telegram.wait_for("getUpdates", 1, timeout=30)
            telegram.enqueue_text("/sources", chat_id=2002, user_id=2002)
            sender = WeChatSender(session, f"http://127.0.0.1:{port}/wx/callback")
            response = await sender.text("来源", mode="safe")
            assert response.content.startswith("来源（4 篇）")
            (sent,) = await telegram.wait_for("sendMessage", 1, timeout=15)
            assert "来源（4 篇）" in sent.params["text"]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode()
    assert TOKEN not in stderr.decode() and AES_KEY not in stderr.decode()
