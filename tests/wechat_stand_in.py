"""Stand-ins for WeChat's own servers, for driving the real WeChat channel over HTTP.

* `WeChatApiStandIn` serves the Official Account API on 127.0.0.1 (a free port): `token` hands out
  access tokens, `message/custom/send` records pushed text; failures can be queued per endpoint.
* `WeChatSender` plays WeChat's callback side: it signs every request as WeChat does
  (`sha1(sorted(token, timestamp, nonce))`), encrypts safe-mode bodies with wechatpy's own crypto
  and checks and decrypts the channel's encrypted replies.

    async with WeChatApiStandIn() as api:
        settings = Settings(wechat_api_base_url=api.base_url, ...)
        reply = await sender.text("你好", msg_id=1)
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner

TOKEN = "panel-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat generates
ACCOUNT = "gh_panel_account"
"""The Official Account's own id (ToUserName of what users send)."""
_MSG_IDS = itertools.count(7_000_000_000_000_000_001)
"""WeChat's MsgIds are unique across the platform, so across senders here too."""


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def cdata(value: object) -> str:
    if not isinstance(value, str):
        return str(value)
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, object]) -> str:
    """A message as WeChat writes it: one element per field, strings in CDATA."""
    return "<xml>" + "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items()) + "</xml>"


@dataclass
class Call:
    """One request the API stand-in received."""

    path: str
    params: dict[str, str]
    body: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


class WeChatApiStandIn:
    """An in-process Official Account API on 127.0.0.1 that records calls and pushed messages."""

    def __init__(self, *, app_id: str = APP_ID, app_secret: str = APP_SECRET, expires_in: int = 7200) -> None:
        self.app_id, self.app_secret, self.expires_in = app_id, app_secret, expires_in
        self.calls: list[Call] = []
        self.valid_tokens: set[str] = set()
        self._tokens = itertools.count(1)
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> WeChatApiStandIn:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def fail_next(self, path: str, errcode: int, errmsg: str = "refused") -> None:
        """Answer the next call of `path` (`token` or `message/custom/send`) with an error."""
        self._failures.setdefault(path, []).append((errcode, errmsg))

    def revoke_tokens(self) -> None:
        """Invalidate every token handed out, as fetching one elsewhere does."""
        self.valid_tokens.clear()

    def requests(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    def pushed(self, openid: str | None = None) -> list[str]:
        """Texts accepted by `message/custom/send`, in order (to one user with `openid`)."""
        return [
            call.body["text"]["content"]
            for call in self.calls
            if call.path == "message/custom/send"
            and call.body is not None
            and call.body.get("accepted")
            and (openid is None or call.body["touser"] == openid)
        ]

    async def wait_for_pushes(
        self, count: int, *, openid: str | None = None, timeout: float = 10.0
    ) -> list[str]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.pushed(openid)) >= count), timeout)
        return self.pushed(openid)

    async def wait_for_calls(self, path: str, count: int, *, timeout: float = 10.0) -> list[Call]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.requests(path)) >= count), timeout)
        return self.requests(path)

    async def _record(self, call: Call, answer: dict[str, Any]) -> web.Response:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        return web.Response(text=json.dumps(answer, ensure_ascii=False), content_type="text/plain")

    def _failure(self, path: str) -> dict[str, Any] | None:
        queued = self._failures.get(path)
        if queued:
            errcode, errmsg = queued.pop(0)
            return {"errcode": errcode, "errmsg": errmsg}
        return None

    async def _token(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        call = Call("token", params, None)
        failure = self._failure("token")
        if failure:
            return await self._record(call, failure)
        if params.get("grant_type") != "client_credential":
            return await self._record(call, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if params.get("appid") != self.app_id or params.get("secret") != self.app_secret:
            return await self._record(call, {"errcode": 40013, "errmsg": "invalid appid"})
        token = f"ACCESS_TOKEN_{next(self._tokens)}"
        self.valid_tokens.add(token)
        return await self._record(call, {"access_token": token, "expires_in": self.expires_in})

    async def _send(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        raw = await request.read()
        body: dict[str, Any] = json.loads(raw.decode("utf-8"))
        call = Call("message/custom/send", params, body)
        if params.get("access_token") not in self.valid_tokens:
            return await self._record(call, {"errcode": 40001, "errmsg": "invalid credential"})
        failure = self._failure("message/custom/send")
        if failure:
            return await self._record(call, failure)
        content = body.get("text", {}).get("content", "")
        if body.get("msgtype") != "text" or not content:
            return await self._record(call, {"errcode": 44002, "errmsg": "empty post data"})
        if len(content.encode()) > 2048:
            return await self._record(call, {"errcode": 45002, "errmsg": "content size out of limit"})
        body["accepted"] = True
        return await self._record(call, {"errcode": 0, "errmsg": "ok"})


@dataclass
class Response:
    """What the channel answered one callback with."""

    status: int
    body: str
    fields: dict[str, Any] | None = None
    """The reply message's fields (decrypted in safe mode), None for `success` or an error."""

    @property
    def content(self) -> str:
        return str(self.fields["Content"]) if self.fields else ""


class WeChatSender:
    """Posts callbacks to the channel exactly as WeChat's servers do."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str = TOKEN,
        aes_key: str = AES_KEY,
        app_id: str = APP_ID,
        openid: str = "o_user_1",
    ) -> None:
        self.session, self.url = session, url
        self.token, self.aes_key, self.app_id, self.openid = token, aes_key, app_id, openid
        self._nonces = itertools.count(100_000)

    def next_msg_id(self) -> int:
        return next(_MSG_IDS)

    def signed_query(self, *, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(next(self._nonces))
        return {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}

    def fields(
        self, msg_type: str, *, openid: str | None = None, msg_id: int | None = None, **extra: object
    ) -> dict[str, object]:
        fields: dict[str, object] = {
            "ToUserName": ACCOUNT,
            "FromUserName": openid or self.openid,
            "CreateTime": int(time.time()),
            "MsgType": msg_type,
            **extra,
        }
        if msg_type != "event":
            fields["MsgId"] = msg_id if msg_id is not None else self.next_msg_id()
        return fields

    def encrypt(self, xml: str) -> str:
        key = base64.b64decode(self.aes_key + "=")
        return PrpCrypto(key).encrypt(xml, self.app_id).decode()

    def request(self, fields: dict[str, object], *, mode: str = "plain") -> tuple[dict[str, str], bytes]:
        """Return the query and body WeChat posts for a message in `plain`, `safe` or `compatible` mode."""
        query = self.signed_query()
        plain = message_xml(fields)
        if mode == "plain":
            return query, plain.encode()
        encrypted = self.encrypt(plain)
        query |= {
            "openid": str(fields["FromUserName"]),
            "encrypt_type": "aes",
            "msg_signature": sign(self.token, query["timestamp"], query["nonce"], encrypted),
        }
        if mode == "safe":
            body = message_xml({"ToUserName": ACCOUNT, "Encrypt": encrypted})
        else:  # compatible: the plain fields beside the ciphertext
            body = message_xml({**fields, "Encrypt": encrypted})
        return query, body.encode()

    async def post(self, query: dict[str, str], body: bytes) -> Response:
        async with self.session.post(
            self.url, params=query, data=body, headers={"Content-Type": "text/xml"}
        ) as response:
            text = await response.text()
        return Response(
            response.status, text, self.read_reply(text, query) if response.status == 200 else None
        )

    async def send(self, fields: dict[str, object], *, mode: str = "plain") -> Response:
        return await self.post(*self.request(fields, mode=mode))

    async def text(self, content: str, *, mode: str = "plain", **options: Any) -> Response:
        return await self.send(self.fields("text", Content=content, **options), mode=mode)

    def read_reply(self, text: str, query: dict[str, str]) -> dict[str, Any] | None:
        """Parse a reply; an encrypted one must carry a valid signature and decrypt for our AppID."""
        if text in ("", "success"):
            return None
        outer: dict[str, Any] = xmltodict.parse(text)["xml"]
        if "Encrypt" not in outer:
            return outer
        assert query.get("encrypt_type") == "aes", "an encrypted reply to a plain-mode request"
        crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
        inner = crypto.decrypt_message(text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
        fields: dict[str, Any] = xmltodict.parse(inner)["xml"]
        fields["encrypted"] = True
        return fields
