"""A local stand-in for an OpenAI-compatible chat endpoint, for driving the real client stack.

It serves `POST /v1/chat/completions` on 127.0.0.1 (a free port) in a thread, records every
request body, and answers with queued replies; with nothing queued it answers HTTP 500. `hang()`
makes it hold every request open (an endpoint that never answers) until `release()`:

    with OpenAIStandIn() as llm:
        llm.enqueue("我认为……[1]。")
        settings = Settings(llm_base_url=llm.base_url, llm_model="stand-in", llm_api_key="x")
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One queued answer: the assistant's content, or an HTTP error status."""

    content: str = ""
    status: int = 200


class _QuietServer(ThreadingHTTPServer):
    """Does not print a traceback when a client gave up on a held request (a broken pipe)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a failed write to a client that went away."""


class OpenAIStandIn:
    """An in-process OpenAI-compatible chat server that records requests and serves queued replies."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        """JSON bodies of the chat completion requests, oldest first."""
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self.in_flight = 0
        """Requests being answered (or held) right now, whose client is still waiting."""
        self.most_in_flight = 0
        """The most requests it was answering at once."""
        self._ids = itertools.count(1)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="openai-stand-in", daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for an OpenAI client's `base_url`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, content: str) -> None:
        """Queue an assistant answer."""
        with self._lock:
            self._replies.append(Reply(content=content))

    def enqueue_error(self, status: int = 500, *, times: int = 1) -> None:
        """Queue HTTP errors (a retrying client needs one per attempt)."""
        with self._lock:
            self._replies.extend(Reply(status=status) for _ in range(times))

    def hang(self) -> None:
        """Hold every request open without answering, until `release`."""
        self._released.clear()

    def release(self) -> None:
        """Answer held and later requests again."""
        self._released.set()

    def reset(self) -> None:
        """Forget recorded requests and queued replies; stop hanging."""
        self.release()
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self.most_in_flight = 0

    def requests_for(self, model: str) -> int:
        """How many requests named this model (tests that share the server tell theirs apart so)."""
        with self._lock:
            return sum(1 for body in self.requests if body.get("model") == model)

    def prompt(self, index: int = -1) -> str:
        """Return all message contents of one recorded request, joined by newlines."""
        messages = self.requests[index]["messages"]
        return "\n".join(str(m.get("content", "")) for m in messages)

    def _next(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else Reply(status=500)

    def _completion(self, model: str, content: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                body = json.loads(self.rfile.read(length) or b"{}")
                with stand_in._lock:
                    stand_in.requests.append(body)
                    stand_in.in_flight += 1
                    stand_in.most_in_flight = max(stand_in.most_in_flight, stand_in.in_flight)
                try:
                    if self._held():
                        self._answer(body)
                finally:
                    with stand_in._lock:
                        stand_in.in_flight -= 1

            def _held(self) -> bool:
                """Wait while hanging; False if the client gave up meanwhile (it closed the connection)."""
                deadline = time.monotonic() + 60
                while not stand_in._released.wait(timeout=0.02) and time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0)
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return False
                return True

            def _answer(self, body: dict[str, Any]) -> None:
                reply = stand_in._next()
                if reply.status != 200:
                    error = {"error": {"message": "stand-in failure", "type": "server_error"}}
                    self._send(reply.status, error)
                    return
                self._send(200, stand_in._completion(str(body.get("model", "")), reply.content))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "10")  # keeps a retrying client fast
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler
