"""The channel-neutral chat core: one Inbound message in, a stream of Replies out.

Every channel (Telegram, WeChat, the terminal) calls `PanelService.handle` and renders what it
yields. Blocking work (answering, reloading) runs in worker threads; the serving Panel is swapped
for a freshly built one in a single assignment, so a question is always answered by one complete
Panel. The command handlers live in `bot.chat.commands`, plain-text questions and follow-ups in
`bot.chat.question`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.chat import admin
from bot.chat.admin import ReloadReport
from bot.chat.commands import COMMANDS as COMMANDS  # re-exported: still importable from bot.chat.service
from bot.chat.commands import button_pressed, stray_document
from bot.chat.message import MAX_INBOUND_CHARS, Document, Inbound, Reply
from bot.chat.question import answer_question
from bot.chat.render import ask_replies, debate_reply
from bot.chat.scheduler import seeds_fingerprint
from bot.chat.store import Exchange, Store, Subscription
from bot.chat.turn import Turn
from bot.compose.answer import AskResult
from bot.debate import iter_debate
from bot.errors import BotError
from bot.panel import Panel
from bot.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

STAGES: tuple[str, ...] = (
    "validate",  # drop unaddressed group chatter; refuse over-long text before doing any work
    "route",  # pick the handler: a command (admin-only ones checked here), a button, or a question
    "run",  # run the handler, streaming its replies (a debate yields one per turn)
    "record",  # remember the chat and the exchange for follow-ups, count the question
)

GENERIC_ERROR = "抱歉，出了点问题，请稍后再试。"
ADMIN_ONLY = "只有管理员可以使用这个命令。"
DRAIN_SECONDS = 30.0
"""How long a reload waits for questions still running on the old Panel before pruning its index."""


SubscriptionListener = Callable[[str, Subscription | None], Awaitable[None] | None]
"""Told `(chat_id, subscription)` after `/subscribe`, `(chat_id, None)` after `/unsubscribe`."""


@dataclass(frozen=True)
class Serving:
    """The Panel answering questions and when it was built; replaced as a whole on reload."""

    panel: Panel
    built_at: float


@dataclass
class _Flights:
    """Questions running on each Panel, so a reload prunes an index only once nobody reads it."""

    running: Counter[int] = field(default_factory=Counter)
    idle: asyncio.Condition = field(default_factory=asyncio.Condition)


class PanelService:
    """The chat core channels talk to (implements `bot.chat.message.ChatService`)."""

    def __init__(
        self, panel: Panel, store: Store, settings: Settings, *, rng: random.Random | None = None
    ) -> None:
        self._serving = Serving(panel, time.time())
        self.store = store
        self.settings = settings
        self.rng = rng or random.Random()
        self.subscription_listener: SubscriptionListener | None = None
        """Set by an adapter that schedules daily quotes, to hear of (un)subscriptions."""
        self.seeds_seen = seeds_fingerprint(settings.seeds_dir)
        """Fingerprint of `seeds/` at the last build or reload attempt (see `scheduler.check_seeds`)."""
        self._reload_lock = asyncio.Lock()
        self._flights = _Flights()
        self._debates: dict[str, threading.Event] = {}

    @classmethod
    def open(cls, settings: Settings) -> PanelService:
        """Open the Panel and the store the settings name (blocking: loads the index)."""
        return cls(Panel.open(settings), Store.open(settings), settings)

    @property
    def panel(self) -> Panel:
        """The Panel currently serving."""
        return self._serving.panel

    @property
    def built_at(self) -> float:
        """Unix time the serving Panel was built."""
        return self._serving.built_at

    def first_delivery(self, key: str) -> bool:
        """Return True the first time an update key is seen; replicas sharing a database agree."""
        return self.store.claim_delivery(key)

    # -- the pipeline ----------------------------------------------------
    async def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        """Yield the replies to one inbound message; errors become one error Reply here and only here."""
        turn = Turn(inbound)
        stages = {"validate": self._validate, "route": self._route, "run": self._run, "record": self._record}
        try:
            for name in STAGES:
                async for reply in stages[name](turn):
                    yield reply
                if turn.done:
                    return
        except BotError as error:
            logger.info("chat %s: %s", inbound.chat_id, error)
            yield Reply(error.user_message, kind="error")
        except Exception:
            logger.exception("chat %s: failed to handle %r", inbound.chat_id, inbound.command or "question")
            yield Reply(GENERIC_ERROR, kind="error")

    async def _validate(self, turn: Turn) -> AsyncIterator[Reply]:
        """Drop group messages not addressed to the bot; refuse over-long text."""
        inbound = turn.inbound
        if inbound.is_group and not inbound.addressed:
            turn.done = True
            return
        length = max(len(inbound.text), len(inbound.args))
        if length > MAX_INBOUND_CHARS:
            turn.done = True
            yield Reply(
                f"消息太长了（{length} 字），请控制在 {MAX_INBOUND_CHARS} 字以内，再发一次。", kind="error"
            )

    async def _route(self, turn: Turn) -> AsyncIterator[Reply]:
        """Choose the handler; unknown commands and non-admins running admin commands stop here."""
        inbound = turn.inbound
        if inbound.callback is not None:
            turn.handler = button_pressed
            return
        if inbound.command is None:
            turn.handler = answer_question
            if inbound.document is not None and not inbound.text.strip():
                turn.handler = stray_document
            return
        name = inbound.command.lower().lstrip("/").partition("@")[0]
        command = COMMANDS.get(name)
        if command is None:
            turn.done = True
            yield Reply(f"没有 /{name} 这个命令，发送 /help 查看可用的命令。", kind="error")
        elif command.admin and not inbound.is_admin:
            turn.done = True
            yield Reply(ADMIN_ONLY, kind="error")
        else:
            turn.handler = command.handler

    async def _run(self, turn: Turn) -> AsyncIterator[Reply]:
        """Run the chosen handler."""
        if turn.handler is not None:
            async for reply in turn.handler(self, turn):
                yield reply

    async def _record(self, turn: Turn) -> AsyncIterator[Reply]:
        """Remember the chat and, for a question, the exchange and the counters."""
        chat_id = turn.inbound.chat_id
        self.store.touch_chat(chat_id)
        if turn.exchange is not None:
            ex = turn.exchange
            self.store.add_exchange(chat_id, question=ex.question, topic=ex.topic, personas=ex.personas)
            self.store.increment("questions")
            if ex.personas:
                self.store.increment("answered")
        return
        yield  # an async generator like the other stages, though it has nothing to say

    # -- answering ---------------------------------------------------------
    async def _ask(self, question: str, persona_ids: Sequence[str] = ()) -> tuple[Panel, AskResult]:
        """Ask the serving Panel in a worker thread; return the Panel that answered and its result."""
        panel = self.panel
        self._flights.running[id(panel)] += 1
        try:
            result = await asyncio.to_thread(panel.ask, question, persona_ids=persona_ids)
        finally:
            self._flights.running[id(panel)] -= 1
            async with self._flights.idle:
                self._flights.idle.notify_all()
        return panel, result

    async def answer(
        self, turn: Turn, question: str, *, asked: str, topic: str, persona_ids: Sequence[str] = ()
    ) -> AsyncIterator[Reply]:
        """Ask the panel and yield one Reply per answering persona, or the refusal."""
        panel, result = await self._ask(question, persona_ids)
        personas = {p.id: p for p in panel.registry}
        answered = tuple(a.persona_id for a in result.answers)
        turn.exchange = Exchange(time.time(), asked, topic, answered)
        for reply in ask_replies(result, personas=personas, sources=panel.sources):
            yield reply

    async def notify(self, chat_id: str, subscription: Subscription | None) -> None:
        """Tell the adapter's scheduler about a (un)subscription."""
        if self.subscription_listener is not None:
            outcome = self.subscription_listener(chat_id, subscription)
            if outcome is not None:
                await outcome

    # -- debates -------------------------------------------------------------
    async def debate(self, turn: Turn) -> AsyncIterator[Reply]:
        """Stage a debate (`/debate 命题 | 名字 名字`), one Reply per turn, until it ends or `/stop`."""
        chat_id = turn.inbound.chat_id
        proposition, _, names = turn.inbound.args.partition("|")
        proposition = proposition.strip()
        if not proposition:
            yield Reply(
                "用法：/debate 命题（可加 | 名字 名字），例如 /debate 开源模型能追上闭源模型", kind="error"
            )
            return
        if chat_id in self._debates:
            yield Reply("这里已经有一场辩论在进行，发送 /stop 结束它。", kind="error")
            return
        panel = self.panel
        persona_ids = [panel.registry.get(name).id for name in names.split()]
        stop = self._debates[chat_id] = threading.Event()
        self._flights.running[id(panel)] += 1
        try:
            turns = iter_debate(panel, proposition, persona_ids=persona_ids, should_stop=stop.is_set)
            async for debate_turn in _until(turns, stop):
                yield debate_reply(debate_turn, sources=panel.sources)
        finally:
            del self._debates[chat_id]
            self._flights.running[id(panel)] -= 1
            async with self._flights.idle:
                self._flights.idle.notify_all()
        if stop.is_set():
            yield Reply("辩论已停止。")

    def stop(self, chat_id: str) -> bool:
        """Ask the chat's running debate to stop after the current turn; return whether one was running."""
        event = self._debates.get(chat_id)
        if event is None:
            return False
        event.set()
        return True

    # -- reloading -----------------------------------------------------------
    async def reload(self) -> ReloadReport:
        """Rebuild the panel from `seeds/` in a worker thread and swap it in; the old one serves meanwhile.

        Raises:
            BotError: the reload failed; the old panel keeps serving and no file changed.
        """
        return await self._rebuild(lambda serving: admin.reload(self.settings, serving))

    async def add_source(self, document: Document) -> ReloadReport:
        """Store an uploaded source and reload; on failure the seeds, profiles and panel stay as they were."""
        return await self._rebuild(lambda serving: admin.add_source(self.settings, serving, document))

    async def _rebuild(self, build: Callable[[Panel], tuple[Panel, ReloadReport]]) -> ReloadReport:
        """Build a new panel off the event loop, swap it in, then prune old index generations."""
        async with self._reload_lock:
            old = self.panel
            try:
                panel, report = await asyncio.to_thread(build, old)
            finally:
                self.seeds_seen = await asyncio.to_thread(seeds_fingerprint, self.settings.seeds_dir)
            self._serving = Serving(panel, time.time())  # the swap
            logger.info("reloaded in %.1fs: %s", report.seconds, report.to_text().replace("\n", " | "))
            await self._drain(old)
            await asyncio.to_thread(panel.index.prune)
        return report

    async def _drain(self, panel: Panel) -> None:
        """Wait (boundedly) until no question is running on `panel`."""
        flights = self._flights
        async with flights.idle:
            try:
                await asyncio.wait_for(
                    flights.idle.wait_for(lambda: flights.running[id(panel)] <= 0), DRAIN_SECONDS
                )
            except TimeoutError:
                logger.warning("questions still running on the old panel after %.0fs", DRAIN_SECONDS)
        flights.running.pop(id(panel), None)


async def _until(turns: Iterator[T], stop: threading.Event) -> AsyncIterator[T]:
    """Yield a debate's turns until it ends or `stop` is set; each blocking step runs in a thread."""
    iterator = turns
    done = object()
    while not stop.is_set():
        item: Any = await asyncio.to_thread(next, iterator, done)
        if item is done or stop.is_set():
            return
        yield item
