"""The terminal channel: chat with the panel on stdin/stdout, with the same commands as Telegram.

Buttons are listed as numbered choices; typing `:N` presses one. `/addsource PATH` reads a local
file as the upload. `/quit` or end of input leaves; Ctrl-C stops a running debate.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from pathlib import Path
from typing import TextIO

from bot.chat.message import Button, Document, Inbound, parse_command
from bot.chat.render import render_plain
from bot.chat.service import PanelService
from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)

USER_ID = CHAT_ID = "terminal:local"
PROMPT = "你> "
QUIT = frozenset({"quit", "exit", "q"})
BANNER = "嘉宾圆桌 · 终端对话。直接输入问题；/help 查看命令，:N 选择按钮，/quit 退出。"
RULE = "─" * 40


class TerminalChat:
    """A read-eval-print loop over one PanelService; the local user is an admin."""

    def __init__(self, service: PanelService, *, stdin: TextIO, stdout: TextIO) -> None:
        self.service = service
        self._in, self._out = stdin, stdout
        self._buttons: list[Button] = []

    def run(self) -> int:
        """Chat until `/quit` or end of input; return the exit status."""
        self._print(BANNER)
        with asyncio.Runner() as runner:
            while True:
                line = self._read()
                if line is None:
                    self._print("")
                    return 0
                inbound = self.inbound(line)
                if inbound is None:
                    continue
                if inbound.command in QUIT:
                    return 0
                try:
                    runner.run(self.send(inbound))
                except KeyboardInterrupt:
                    self.service.stop(CHAT_ID)
                    self._print("（已中断）")

    def _read(self) -> str | None:
        """Prompt and read one line; None at end of input."""
        self._out.write(PROMPT)
        self._out.flush()
        try:
            line = self._in.readline()
        except KeyboardInterrupt:
            return ""
        return line.rstrip("\r\n") if line else None

    def inbound(self, line: str) -> Inbound | None:
        """Turn a typed line into an Inbound: a question, a command, or `:N` for a listed button."""
        text = line.strip()
        if not text:
            return None
        if text.startswith(":") and text[1:].strip().isdigit():
            number = int(text[1:])
            if not 1 <= number <= len(self._buttons):
                self._print(f"没有第 {number} 个选项。")
                return None
            return Inbound(USER_ID, CHAT_ID, is_admin=True, callback=self._buttons[number - 1].payload)
        command, args = parse_command(text)
        document = None
        if command == "addsource" and args:
            try:
                path = Path(args).expanduser()
                document = Document(path.name, path.read_bytes())
            except OSError as error:
                self._print(f"读不了文件 {args}：{error.strerror}")
                return None
        return Inbound(
            USER_ID, CHAT_ID, text=text, command=command, args=args, is_admin=True, document=document
        )

    async def send(self, inbound: Inbound) -> None:
        """Hand one message to the service and print every reply as it arrives."""
        buttons: list[Button] = []
        async for reply in self.service.handle(inbound):
            self._print(RULE)
            self._print(render_plain(reply))
            if reply.buttons:
                choices = [f":{len(buttons) + i} {b.label}" for i, b in enumerate(reply.buttons, start=1)]
                buttons += reply.buttons
                self._print("  ".join(choices))
        if buttons:
            self._buttons = buttons

    def _print(self, text: str) -> None:
        """Write a line and flush, so a pipe or terminal sees it at once."""
        self._out.write(text + "\n")
        self._out.flush()


def run_terminal(settings: Settings, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Open the panel and chat on the terminal (or the given streams); return the exit status."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    for stream in (stdin, stdout):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")  # a non-UTF-8 terminal shows `?`, it does not crash
    stdout.write("正在加载嘉宾和索引……\n")
    stdout.flush()
    try:
        service = PanelService.open(settings)
    except BotError as error:
        logger.debug("cannot open the panel", exc_info=True)
        stdout.write(f"无法启动：{error.user_message}\n")
        return 1
    try:
        return TerminalChat(service, stdin=stdin, stdout=stdout).run()
    finally:
        service.store.close()
