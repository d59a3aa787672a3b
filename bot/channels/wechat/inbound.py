"""WeChat callbacks on their way in: signatures checked, safe-mode messages decrypted, XML parsed.

Every callback request carries `signature = sha1(sorted(token, timestamp, nonce))` in its query;
in safe mode (`encrypt_type=aes`) the body holds only `Encrypt`, signed by `msg_signature` over
the same three values plus the ciphertext. Compatible mode sends the plain fields beside `Encrypt`;
with an EncodingAESKey it is read like safe mode, without one like plain mode. What a user typed
becomes a neutral `Inbound`: `问 李涛 …` the command `ask`, `/ask 李涛 …` too.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import WeChatSigner

from bot.chat.message import Inbound, parse_command
from bot.errors import AdapterError, ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

PLATFORM = "wechat"
CONTINUE = "continue"
"""The channel's own command: the next queued part of an answer (`继续`)."""
WORD_COMMANDS: dict[str, str] = {
    "问": "ask",
    "辩论": "debate",
    "立场": "map",
    "人物": "personas",
    "嘉宾": "personas",
    "来源": "sources",
    "订阅": "subscribe",
    "退订": "unsubscribe",
    "帮助": "help",
    "继续": CONTINUE,
    "谁说的": "who",
    "语录": "quote",
    "对话": "with",
    "停止": "stop",
}
"""Commands as WeChat users type them (no slash), mapped to the chat core's command names."""
_WORD = re.compile(
    "^(" + "|".join(sorted(map(re.escape, WORD_COMMANDS), key=len, reverse=True)) + r")(?:[\s:：]+(.*))?$",
    re.DOTALL,
)
_TRAILING = "。.！!？?~～ \u3000"
"""Punctuation a bare command word may end with (`继续。`)."""
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
AES_KEY_CHARS = 43


class SignatureError(AdapterError):
    """A callback whose signature does not match: not from WeChat, or not for this account."""

    def __init__(self, message: str) -> None:
        super().__init__(message, user_message="签名无效。")


class MalformedMessageError(AdapterError):
    """A callback body that is not a WeChat message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, user_message="消息格式无效。")


@dataclass(frozen=True)
class Envelope:
    """The query parameters WeChat signs a callback with."""

    signature: str
    timestamp: str
    nonce: str
    encrypt_type: str = ""
    msg_signature: str = ""

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> Envelope:
        """Read the parameters from a request's query (missing ones are empty)."""
        return cls(
            signature=query.get("signature", ""),
            timestamp=query.get("timestamp", ""),
            nonce=query.get("nonce", ""),
            encrypt_type=query.get("encrypt_type", "").lower(),
            msg_signature=query.get("msg_signature", ""),
        )

    @property
    def encrypted(self) -> bool:
        """Whether WeChat sent the message encrypted (safe or compatible mode)."""
        return self.encrypt_type == "aes"


def sign(*parts: str) -> str:
    """Return WeChat's signature over `parts`: the SHA-1 of their sorted concatenation."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def signature_valid(token: str, envelope: Envelope) -> bool:
    """Whether the query's `signature` is the one WeChat computes with the token."""
    if not (envelope.signature and envelope.timestamp and envelope.nonce):
        return False
    expected = sign(token, envelope.timestamp, envelope.nonce)
    return hmac.compare_digest(expected.encode(), envelope.signature.encode())


def message_crypto(settings: Settings) -> WeChatCrypto | None:
    """Return the safe-mode crypto of the account, or None without an EncodingAESKey.

    Raises:
        ConfigError: the key is not 43 characters of base64, or WECHAT_APP_ID is missing.
    """
    key = settings.wechat_aes_key.get_secret_value()
    if not key:
        return None
    if not settings.wechat_app_id:
        raise ConfigError(
            "WECHAT_AES_KEY is set but WECHAT_APP_ID is not: encrypted messages name the AppID they are for",
            user_message="WECHAT_APP_ID 未设置。",
        )
    try:
        if len(key) != AES_KEY_CHARS:
            raise ValueError(f"{len(key)} characters")
        return WeChatCrypto(settings.wechat_token.get_secret_value(), key, settings.wechat_app_id)
    except (ValueError, AssertionError) as exc:  # wechatpy asserts the decoded length
        raise ConfigError(
            f"WECHAT_AES_KEY must be the 43-character EncodingAESKey of the account ({exc})",
            user_message="WECHAT_AES_KEY 格式不对。",
        ) from None


def read_message(body: bytes, envelope: Envelope, *, crypto: WeChatCrypto | None) -> BaseMessage:
    """Decrypt (in safe mode) and parse one callback body; the plain signature is checked already.

    Raises:
        SignatureError: `msg_signature` does not match, or the message is for another AppID.
        MalformedMessageError: the body is not a WeChat XML message or cannot be decrypted.
    """
    if _DECLARATION.search(body):  # WeChat never sends a DTD; entities could expand without bound
        raise MalformedMessageError("XML with a document type declaration")
    xml: str | bytes = body
    if envelope.encrypted and crypto is not None:
        try:
            xml = crypto.decrypt_message(body, envelope.msg_signature, envelope.timestamp, envelope.nonce)
        except InvalidSignatureException:
            raise SignatureError("msg_signature does not match") from None
        except InvalidAppIdException:
            raise SignatureError("encrypted for another AppID") from None
        except Exception as exc:  # expat, base64, padding, missing Encrypt: all mean a broken body
            raise MalformedMessageError(f"cannot decrypt: {exc!r}") from None
    elif envelope.encrypted:
        logger.warning(
            "an encrypted callback arrived but WECHAT_AES_KEY is not set; reading its plain fields"
        )
    try:
        message = parse_message(xml)
        if message is None or not message.source:
            raise ValueError("no FromUserName")
    except Exception as exc:  # expat errors, a missing <xml> root or MsgType, odd nesting
        raise MalformedMessageError(f"not a WeChat message: {exc!r}") from None
    return message


def delivery_key(message: BaseMessage) -> str:
    """Return the key under which a message is handled once, whatever WeChat's retries.

    Messages carry a `MsgId`; events do not, and WeChat names `FromUserName` + `CreateTime` as theirs.
    """
    msg_id = int(message.id or 0)
    if msg_id:
        return f"wechat:msg:{msg_id}"
    event = str(getattr(message, "event", "") or message.type)
    return f"wechat:event:{message.source}:{message.time}:{event}"


def qualified(openid: str) -> str:
    """Return the platform-qualified id of an openid: `wechat:<openid>`."""
    return f"{PLATFORM}:{openid}"


def parse_words(text: str) -> tuple[str | None, str]:
    """Read what a user typed: a command word (`问 李涛 …`), a slash command, or plain text."""
    stripped = text.strip()
    bare = stripped.rstrip(_TRAILING)
    if bare in WORD_COMMANDS:
        return WORD_COMMANDS[bare], ""
    match = _WORD.match(stripped)
    if match is not None:
        return WORD_COMMANDS[match.group(1)], (match.group(2) or "").strip()
    command, args = parse_command(stripped)
    if command in ("continue", "next", "more"):
        return CONTINUE, args
    return command, args if command is not None else ""


def text_of(message: BaseMessage) -> str | None:
    """Return what the user said: a text message's content, or a voice message's recognised words."""
    if message.type == "text":
        return str(message.content or "")
    recognition: Any = getattr(message, "recognition", None)
    if message.type == "voice" and recognition:
        return str(recognition)
    return None


def to_inbound(text: str, *, openid: str, admin_ids: frozenset[str]) -> Inbound:
    """Convert what a user typed into a neutral `Inbound` (a private chat: chat and user are one)."""
    command, args = parse_words(text)
    user = qualified(openid)
    return Inbound(
        user_id=user,
        chat_id=user,
        text=text.strip(),
        command=command,
        args=args,
        is_admin=openid in admin_ids,
    )
