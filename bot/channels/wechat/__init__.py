"""The WeChat Official Account channel: an aiohttp callback server over the chat core.

`app` wires the callback routes and serves them, `inbound` checks signatures, decrypts safe-mode
messages and turns XML into `Inbound`, `dispatch` answers within WeChat's five seconds or later,
`render` turns replies into plain text of at most 2048 bytes, `api` calls WeChat (access tokens,
customer-service messages), `jobs` pushes the daily quotes.
"""

from bot.channels.wechat.app import build_app, run_wechat

__all__ = ["build_app", "run_wechat"]
