"""The Official Account API, as far as the channel calls out: access tokens and customer-service text.

`token` (appid + secret) returns an access token valid for `expires_in` seconds; it is cached until
shortly before then, and fetched again when WeChat says it is invalid or expired (another process
fetching a token invalidates ours). `message/custom/send` pushes a text message to a user who wrote
within the last 48 hours; WeChat refuses it past that (45015), past its own quota (45047) or for an
account without the permission (48001), and the caller then keeps the message for the user's next
visit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.errors import AdapterError

logger = logging.getLogger(__name__)

TOKEN_REFRESH = frozenset({40001, 40014, 42001})
"""The access token is invalid (40001, 40014) or expired (42001): fetch another and try again once."""
CANNOT_PUSH = frozenset({45015, 45047, 48001})
"""Out of the 48-hour window, over the push quota, or no permission: deliver on the next message."""
EXPIRY_MARGIN = 300.0
"""Seconds before its stated expiry a token is replaced (WeChat gives 7200)."""
TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeChatApiError(AdapterError):
    """The Official Account API refused a call or could not be reached."""

    def __init__(self, method: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat {method} failed: {errcode} {errmsg}", user_message="微信接口调用失败。")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    """An async client of the Official Account API with a cached access token."""

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._app_id, self._secret = app_id, app_secret
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token = ""
        self._expires = 0.0
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call one endpoint and return its JSON object; a non-zero `errcode` raises."""
        try:
            async with self._http().request(method, self._base + path, **kwargs) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WeChatApiError(path, -1, f"unreachable: {exc!r}") from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise WeChatApiError(path, -1, f"HTTP {response.status}, not a JSON object")
        errcode = int(body.get("errcode") or 0)
        if errcode:
            raise WeChatApiError(path, errcode, str(body.get("errmsg", "")))
        return body

    async def access_token(self, *, stale: str = "") -> str:
        """Return a valid access token, fetching one when none is cached, it expires, or it is `stale`."""
        async with self._token_lock:
            if self._token and self._token != stale and self._clock() < self._expires:
                return self._token
            body = await self._call(
                "GET",
                "token",
                params={"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret},
            )
            token = str(body.get("access_token", ""))
            if not token:
                raise WeChatApiError("token", -1, "no access_token in the answer")
            lifetime = float(body.get("expires_in") or 7200)
            self._token, self._expires = token, self._clock() + max(lifetime - EXPIRY_MARGIN, lifetime / 2)
            logger.info("fetched a WeChat access token valid for %.0f s", lifetime)
            return token

    async def send_text(self, openid: str, text: str) -> None:
        """Push one text message through the customer-service API.

        Raises:
            WeChatApiError: WeChat refused it (see `errcode`) or could not be reached.
        """
        payload = json.dumps(
            {"touser": openid, "msgtype": "text", "text": {"content": text}}, ensure_ascii=False
        ).encode()
        token = await self.access_token()
        for attempt in range(2):
            try:
                await self._call(
                    "POST",
                    "message/custom/send",
                    params={"access_token": token},
                    data=payload,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
                return
            except WeChatApiError as error:
                if error.errcode not in TOKEN_REFRESH or attempt:
                    raise
                logger.info("WeChat access token refused (%s); fetching a new one", error.errcode)
                token = await self.access_token(stale=token)
