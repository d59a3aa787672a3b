"""WeChat's five-second rule: answer in the reply when the answer is quick, later when it is not.

WeChat waits five seconds for the HTTP reply to a callback, then drops the connection and sends
the same message again, three times in all. Each message is answered once, by one flight keyed by
its `MsgId` (claimed in the store, so replicas agree); a retry that arrives meanwhile waits on the
same flight. A flight that finishes within `WECHAT_REPLY_SECONDS` is the passive reply; one that
does not is acknowledged, and its answer later goes

* through the customer-service API (`WECHAT_CUSTOMER_SERVICE=true`): at most `PUSH_LIMIT` pushes
  within `PUSH_WINDOW` of the user's last message; what does not fit, or what WeChat refuses, is
  queued for the user's next message;
* or into the store's pending deliveries, which the user's next message fetches (`正在整理…`).

An answer longer than one message sends its first part and queues the rest for `继续`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from wechatpy.messages import BaseMessage

from bot.channels.wechat.api import CANNOT_PUSH, WeChatApiError
from bot.channels.wechat.inbound import CONTINUE, delivery_key, qualified, text_of, to_inbound
from bot.channels.wechat.render import (
    MESSAGE_BYTES,
    NOTHING_MORE,
    STILL_WAITING,
    WAITING,
    render_parts,
    with_more,
)
from bot.chat.message import ChatService, Inbound, Reply
from bot.chat.service import GENERIC_ERROR
from bot.chat.store import Pending

logger = logging.getLogger(__name__)

PUSH_LIMIT = 5
"""Customer-service messages allowed per user after each message of theirs."""
PUSH_WINDOW = 48 * 3600.0
"""Seconds after the user's last message during which WeChat accepts pushes."""
RETRY_MEMORY = 30.0
"""Seconds a finished flight is remembered, so WeChat's retries (5 s apart) get the same reply."""
DRAIN_SECONDS = 30.0
"""How long shutdown waits for answers still composing."""
FETCH_MARGIN = 0.3
"""Seconds kept before the deadline when a message waits for an earlier late answer (at most a
quarter of the reply time)."""
NON_TEXT = "我只能读文字消息：请把问题打成文字发给我，或发送“帮助”查看用法。"
NO_SUBSCRIPTION = "这个公众号不能主动发消息，暂时无法订阅每日语录。"
PUSH_COMING = "还在整理，好了就发给你。"
WELCOME_EVENTS = frozenset({"subscribe", "subscribe_scan"})
GUIDE = (
    "在公众号里直接输入：\n"
    "问 名字 问题　只问这位嘉宾\n"
    "辩论 命题　让嘉宾们辩论\n"
    "立场 命题　看嘉宾们各持什么立场\n"
    "人物　嘉宾列表（人物 名字 查看简介）\n"
    "来源　资料来源的文章\n"
    "{subscribe}"
    "继续　查看回答的下一段\n"
    "帮助　使用说明"
)
SUBSCRIBE_GUIDE = "订阅 08:30　每天一条嘉宾语录（退订 取消）\n"


class PendingStore(Protocol):
    """What the channel keeps in the chat store: queued messages and the push quota."""

    def queue_pending(self, recipient: str, parts: Sequence[str], *, late: bool) -> None:
        """Queue messages for the recipient's next visit."""
        ...

    def next_pending(self, recipient: str, *, continuing: bool) -> Pending | None:
        """Take the recipient's next queued message."""
        ...

    def open_push_window(self, recipient: str) -> None:
        """Record that the recipient just wrote."""
        ...

    def claim_push(self, recipient: str, *, limit: int, window: float) -> bool:
        """Count one push, if the quota allows it."""
        ...

    def pushes_left(self, recipient: str, *, limit: int, window: float) -> int:
        """Return how many pushes the quota still allows."""
        ...


class Pusher(Protocol):
    """Sends a text message outside a reply (the customer-service API)."""

    async def send_text(self, openid: str, text: str) -> None:
        """Push one text message; raises `WeChatApiError` when WeChat refuses it."""
        ...


@dataclass(eq=False)
class Flight:
    """One message being answered; every delivery of it (WeChat's retries) waits on this."""

    openid: str
    deadline: float
    """Loop time by which the passive reply must go back."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    passive: str | None = None
    """The passive reply, once the answer was ready in time ("" for WeChat's `success`)."""
    late: bool = False
    """Not ready in time: the answer goes out by push or waits for the user's next message."""
    task: asyncio.Task[None] | None = None


class Dispatcher:
    """Answers WeChat messages through the chat core, within WeChat's time limit or later."""

    def __init__(
        self,
        service: ChatService,
        store: PendingStore,
        *,
        admin_ids: frozenset[str],
        reply_seconds: float,
        pusher: Pusher | None = None,
        message_bytes: int = MESSAGE_BYTES,
    ) -> None:
        self._service, self._store, self._pusher = service, store, pusher
        self._admin_ids = admin_ids
        self._reply_seconds = reply_seconds
        self._message_bytes = message_bytes
        self._flights: dict[str, Flight] = {}
        self._late: defaultdict[str, set[Flight]] = defaultdict(set)
        """Late flights still composing, by openid."""

    @property
    def pushes(self) -> bool:
        """Whether late answers are pushed (customer-service mode)."""
        return self._pusher is not None

    def acknowledgement(self) -> str:
        """Return the passive reply of a message whose answer comes later ("" is `success`)."""
        return "" if self.pushes else WAITING

    async def respond(self, message: BaseMessage) -> str:
        """Return the passive reply to one delivery of a message ("" for WeChat's `success`)."""
        key = delivery_key(message)
        flight = self._flights.get(key)
        if flight is None:
            if not self._service.first_delivery(key):
                # Claimed by another replica, or before a restart: that one answers it.
                logger.info("%s delivered again; answered elsewhere", key)
                return self.acknowledgement()
            flight = self._launch(key, message)
        return await self._passive(flight)

    async def drain(self, *, timeout: float = DRAIN_SECONDS) -> None:
        """Wait (boundedly) for the flights still answering, so their late answers are kept (on shutdown)."""
        tasks = [f.task for f in self._flights.values() if f.task is not None and not f.task.done()]
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=timeout)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if running:
                logger.warning("%d WeChat answers still composing at shutdown were dropped", len(running))

    # -- flights ---------------------------------------------------------------

    def _launch(self, key: str, message: BaseMessage) -> Flight:
        loop = asyncio.get_running_loop()
        flight = Flight(str(message.source), loop.time() + self._reply_seconds)
        self._flights[key] = flight
        flight.task = asyncio.create_task(self._fly(key, flight, message), name=f"wechat {key}")
        return flight

    async def _passive(self, flight: Flight) -> str:
        """Wait until the flight's answer is ready or its deadline passes."""
        timeout = max(0.0, flight.deadline - asyncio.get_running_loop().time())
        try:
            await asyncio.wait_for(flight.ready.wait(), timeout)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if flight.passive is None:
                self._go_late(flight)
            raise
        if flight.passive is not None:
            return flight.passive
        self._go_late(flight)
        return self.acknowledgement()

    def _go_late(self, flight: Flight) -> None:
        if not flight.late:
            flight.late = True
            self._late[flight.openid].add(flight)

    async def _fly(self, key: str, flight: Flight, message: BaseMessage) -> None:
        """Answer the message; hand the answer to the passive reply, or deliver it late."""
        try:
            parts = await self._work(flight, message)
        except Exception:
            logger.exception("%s: failed to answer", key)
            parts = [GENERIC_ERROR]
        try:
            if flight.late:
                await self._deliver_late(flight.openid, parts)
            else:
                # Decided without awaiting: `_passive` sees either this reply or none and goes late.
                first, rest = (parts[0], parts[1:]) if parts else ("", [])
                try:
                    self._store.queue_pending(qualified(flight.openid), rest, late=False)
                except Exception:
                    logger.exception("%s: could not queue the rest of the answer", key)
                    rest = []
                flight.passive = with_more(first, more=bool(rest))
                flight.ready.set()
        except Exception:
            logger.exception("%s: failed to deliver the late answer", key)
        finally:
            late = self._late.get(flight.openid)
            if late is not None:
                late.discard(flight)
                if not late:
                    del self._late[flight.openid]
            asyncio.get_running_loop().call_later(RETRY_MEMORY, self._flights.pop, key, None)

    # -- what a message asks for --------------------------------------------------

    async def _work(self, flight: Flight, message: BaseMessage) -> list[str]:
        """Return the messages that answer one WeChat message."""
        openid = flight.openid
        if message.type == "event":
            if str(message.event).lower() not in WELCOME_EVENTS:
                return []
            self._store.open_push_window(qualified(openid))
            return await self._answer(to_inbound("/start", openid=openid, admin_ids=self._admin_ids))
        self._store.open_push_window(qualified(openid))
        text = text_of(message)
        if text is None:  # an image, a location, a link…: fetch what waits, or explain
            return await self._fetch(flight, continuing=False) or [NON_TEXT]
        inbound = to_inbound(text, openid=openid, admin_ids=self._admin_ids)
        if inbound.command == CONTINUE:
            return await self._fetch(flight, continuing=True) or [NOTHING_MORE]
        fetched = await self._fetch(flight, continuing=False)
        if fetched:
            return fetched
        if inbound.command == "subscribe" and not self.pushes:
            return [NO_SUBSCRIPTION]
        return await self._answer(inbound)

    async def _fetch(self, flight: Flight, *, continuing: bool) -> list[str]:
        """Return the user's next queued message, or [] when the message is to be answered itself.

        Without pushes, a message that arrives while an earlier answer is still composing waits for
        it (within this message's own deadline) and fetches it.
        """
        recipient = qualified(flight.openid)
        pending = self._store.next_pending(recipient, continuing=continuing)
        if pending is None:
            composing = [f.task for f in self._late.get(flight.openid, ()) if f is not flight and f.task]
            if not composing:
                return []
            if self.pushes:
                return [PUSH_COMING] if continuing else []
            margin = min(FETCH_MARGIN, self._reply_seconds / 4)
            timeout = flight.deadline - asyncio.get_running_loop().time() - margin
            if timeout > 0:
                await asyncio.wait(composing, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            pending = self._store.next_pending(recipient, continuing=False)
            if pending is None:
                return [STILL_WAITING] if any(not task.done() for task in composing) else []
        return [with_more(pending.text, more=pending.left > 0)]

    async def _answer(self, inbound: Inbound) -> list[str]:
        """Ask the chat core and render its replies as WeChat messages."""
        replies: list[Reply] = [reply async for reply in self._service.handle(inbound)]
        if inbound.command in ("help", "start") and replies:
            guide = GUIDE.format(subscribe=SUBSCRIBE_GUIDE if self.pushes else "")
            replies[0] = replace(replies[0], text=f"{replies[0].text}\n\n{guide}")
        return render_parts(replies, limit=self._message_bytes)

    # -- late delivery -------------------------------------------------------------

    async def _deliver_late(self, openid: str, parts: list[str]) -> None:
        """Push a late answer within the quota, or queue it for the user's next message."""
        if not parts:
            return
        recipient = qualified(openid)
        if self._pusher is None:
            self._store.queue_pending(recipient, parts, late=True)
            logger.info("%s: late answer waits for the next message (%d parts)", recipient, len(parts))
            return
        sent, announced = await self.push(openid, parts)
        rest = parts[sent:]
        if rest:
            # After a `继续` line only `继续` fetches the rest; after a failed push, any message does.
            self._store.queue_pending(recipient, rest, late=not announced)
            logger.info("%s: %d of %d parts pushed, the rest queued", recipient, sent, len(parts))

    async def push(self, openid: str, parts: Sequence[str]) -> tuple[int, bool]:
        """Push messages within the quota; return how many went out and whether the last says `继续`."""
        if self._pusher is None:
            return 0, False
        recipient = qualified(openid)
        allowed = self._store.pushes_left(recipient, limit=PUSH_LIMIT, window=PUSH_WINDOW)
        plan = list(parts[:allowed])
        sent, announced = 0, False
        for n, part in enumerate(plan):
            more = n == len(plan) - 1 and len(parts) > len(plan)
            if not self._store.claim_push(recipient, limit=PUSH_LIMIT, window=PUSH_WINDOW):
                break  # another replica used the quota meanwhile
            try:
                await self._pusher.send_text(openid, with_more(part, more=more))
            except WeChatApiError as error:
                level = logging.INFO if error.errcode in CANNOT_PUSH else logging.WARNING
                logger.log(level, "%s: push refused: %s", recipient, error)
                break
            sent, announced = sent + 1, more
        return sent, announced
