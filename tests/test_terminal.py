"""The terminal chat, driven the way a person types: in process, and as `python -m bot chat` in a pty."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.channels.terminal import PROMPT, TerminalChat
from bot.chat.message import parse_command
from bot.chat.service import PanelService
from bot.settings import Settings

PRICE_WAR = "价格战对行业有什么影响？"


def run_chat(service: PanelService, *lines: str) -> tuple[int, str]:
    stdout = io.StringIO()
    status = TerminalChat(
        service, stdin=io.StringIO("".join(f"{line}\n" for line in lines)), stdout=stdout
    ).run()
    return status, stdout.getvalue()


def test_question_is_answered_with_citation_and_numbered_buttons(service: PanelService) -> None:
    status, out = run_chat(service, PRICE_WAR, ":1", ":9", "/quit", "never read")

    assert status == 0
    assert "赵启明 · 星河智能创始人兼CEO" in out and "[1] 星河智能赵启明：不追参数，只追效果" in out
    assert ":1 📄[1]" in out
    assert "▶价格战对行业是好事，它逼着所有人把推理成本降下来。◀" in out
    assert "没有第 9 个选项。" in out
    assert out.count(PROMPT) == 4


def test_with_and_commands_work_as_in_telegram(service: PanelService) -> None:
    _, out = run_chat(service, "/with 钱文静", PRICE_WAR, "/with off", "/help")

    assert "现在起，你的问题由钱文静回答" in out
    assert "钱文静在这些资料里没有谈过这个问题。" in out
    assert "已结束单独对话" in out and "/addsource" in out  # the local user is an admin


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("/with 李涛", ("with", "李涛")),
        ("/with李涛", ("with", "李涛")),
        ("/ask@panel_bot 方汉 开源", ("ask", "方汉 开源")),
        ("/ 不是命令", (None, "/ 不是命令")),
        ("为什么？", (None, "为什么？")),
    ],
)
def test_lines_parse_like_telegram_commands(line: str, parsed: tuple[str | None, str]) -> None:
    assert parse_command(line) == parsed


def test_end_of_input_leaves_quietly(service: PanelService) -> None:
    assert run_chat(service)[0] == 0


def test_addsource_reads_a_local_file(fresh_service: PanelService, tmp_path: Path) -> None:
    upload = tmp_path / "edge.txt"
    upload.write_text(
        "新芯科技CEO王海峰接受了本报专访。\n\n记者：难点是什么？\n\n王海峰：最大的难点是功耗。\n"
    )

    _, out = run_chat(fresh_service, f"/addsource {upload}", f"/addsource {tmp_path / 'missing.txt'}")

    assert "已添加来源 edge" in out and "王海峰" in out
    assert "读不了文件" in out


class Pty:
    """A child process on a pseudo-terminal, read until a text appears."""

    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
        os.close(slave)
        self.output = b""

    def expect(self, text: str, *, timeout: float = 60) -> str:
        """Wait until `text` has been printed; return everything printed so far."""
        deadline = time.monotonic() + timeout
        while text not in self.output.decode("utf-8", "ignore"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"{text!r} not printed; got:\n{self.output.decode('utf-8', 'replace')}")
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                raise AssertionError(f"{text!r} not printed before exit") from None
        return self.output.decode("utf-8", "ignore")

    def type(self, line: str) -> None:
        """Type a line and press Enter; wait for the prompt first, or it may be read as the next one."""
        os.write(self.master, f"{line}\n".encode())
        self.output = b""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)


@pytest.fixture
def terminal(fresh_settings: Settings, tmp_path: Path) -> Iterator[Pty]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_", "CHROMA_"))}
    env |= {
        "DATA_DIR": str(fresh_settings.data_dir),
        "SEEDS_DIR": str(fresh_settings.seeds_dir),
        "PERSONAS_DIR": str(fresh_settings.personas_dir),
        "DATABASE_URL": "",
    }
    session = Pty([sys.executable, "-m", "bot", "chat"], env=env, cwd=tmp_path)
    yield session
    session.close()


@pytest.mark.integration
def test_terminal_chat_in_a_real_pty(terminal: Pty) -> None:
    terminal.expect(PROMPT)

    terminal.type(PRICE_WAR)
    answer = terminal.expect(PROMPT)
    terminal.type(":1")
    context = terminal.expect(PROMPT)
    terminal.type("/with 钱文静")
    started = terminal.expect(PROMPT)
    terminal.type(PRICE_WAR)
    refusal = terminal.expect(PROMPT)
    terminal.type("/quit")

    assert "“价格战对行业是好事，它逼着所有人把推理成本降下来。”[1]" in answer
    assert "[1] 星河智能赵启明：不追参数，只追效果 · 科技日报 · 2024-08-03" in answer
    assert "▶价格战对行业是好事" in context
    assert "现在起，你的问题由钱文静回答。" in started
    assert "钱文静在这些资料里没有谈过这个问题。" in refusal
    assert terminal.process.wait(30) == 0
