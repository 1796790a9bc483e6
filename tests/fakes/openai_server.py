"""A loopback OpenAI-compatible Chat Completions server standing in for the paid provider in tests.

The app reaches it by its real path (`VARRO_MODEL=openai:<name>`, `OPENAI_BASE_URL`, pydantic-ai's
`OpenAIChatModel`, the openai SDK). Replies are scripted by the turn's prompt (the last user message that
is not a tool's image follow-up) and the tool results since it: by default a markdown answer echoing the
prompt, streamed word by word; for each ```python fence a `run_python` call (arguments in 8-character
chunks), then text quoting the result; a tool-less request mentioning "title" gets a one-line title;
`DELAY_MS=n` sets the pause between chunks. Fault markers are read from the prompt outside code fences,
or from the latest tool result (so `print("HTTP_500")` fails the follow-up request): `FAIL_MIDSTREAM`,
`HANG_MIDSTREAM` (a few chunks, then a dropped connection, or silence), `HTTP_500`, `HTTP_429` (with
`Retry-After: 1`), `HANG` (silence, bounded, then 504), `FLAKY_500_THEN_OK[:n]` (the first n=2 requests
with these exact messages get 500). `GET /_requests` lists every request body, `DELETE` forgets them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```python[^\n]*\n(.*?)```", re.DOTALL)
# Longest first, so HANG_MIDSTREAM is not read as HANG.
FAULT = re.compile(r"\b(FAIL_MIDSTREAM|HANG_MIDSTREAM|FLAKY_500_THEN_OK(?::\d+)?|HTTP_500|HTTP_429|HANG)\b")
DELAY = re.compile(r"\bDELAY_MS=(\d+)\b")
CHUNKS_BEFORE_FAULT = 5
# The local opener ignores any *_PROXY variables: this server is always on loopback.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ScriptedAbort(Exception):
    """Raised inside a streaming body: uvicorn then closes the connection without ending the body."""


@dataclass
class State:
    delay: float = 0.01
    hang: float = 120.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)  # 500s already given, by exact message list


@dataclass(frozen=True)
class Reply:
    text: str = ""
    code: str | None = None  # a run_python call with this code instead of text


def text_of(content: Any) -> str:
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")


def split_turn(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The turn's prompt and the tool results since it; a user message right after a tool result carries
    the tool's images (that is how pydantic-ai sends them), so it is not a new prompt."""
    prompt, results, previous = "", [], None
    for m in messages:
        role = m.get("role")
        if role == "user" and previous != "tool":
            prompt, results = text_of(m.get("content")), []
        elif role == "tool":
            results.append(text_of(m.get("content")))
        previous = role
    return prompt, results


def answer(prompt: str) -> str:
    return (f"## Answer from the fake provider\n\nYou asked: “{' '.join(prompt.split()[:8])}”. This reply is "
            "scripted, and it is streamed in small chunks so that every piece can be seen arriving in the page.\n\n"
            "- first, a point about streaming\n- second, a point about markdown\n- third, a point about history\n\n"
            "That is all for now; ask again and the conversation goes on with everything said so far.\n")


def script(body: dict[str, Any]) -> Reply:
    prompt, results = split_turn(body.get("messages") or [])
    fences = FENCE.findall(prompt)
    if body.get("tools") and len(results) < len(fences):
        return Reply(code=fences[len(results)].rstrip("\n"))
    if results:
        return Reply(text=f"The shell returned:\n\n```\n{results[-1].strip()}\n```\n\nThat is the result of the code.")
    if not body.get("tools") and re.search(r"\btitle\b", prompt, re.IGNORECASE):
        return Reply(text="Fake chat about " + " ".join(FENCE.sub("", prompt).split()[-4:]))
    return Reply(text=answer(prompt))


def fault_of(body: dict[str, Any]) -> str | None:
    prompt, results = split_turn(body.get("messages") or [])
    found = FAULT.search(results[-1] if results else FENCE.sub("", prompt))
    return found.group(1) if found else None


def pieces(reply: Reply) -> list[dict[str, Any]]:
    """The deltas of a reply: words of text, or a tool call whose JSON arguments come 8 characters at a time."""
    if reply.code is None:
        return [{"content": w} for w in re.findall(r"\s*\S+\s*", reply.text)]
    args = json.dumps({"code": reply.code})
    head = {"index": 0, "id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": "run_python", "arguments": ""}}
    tail = [{"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 8]}}]} for i in range(0, len(args), 8)]
    return [{"role": "assistant", "content": None, "tool_calls": [head]}, *tail]


def usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = len(json.dumps(body.get("messages") or [])) // 4
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def error(status: int, message: str, kind: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status, headers)


async def idle(request: Request, seconds: float) -> None:
    """Send nothing for up to `seconds`, ending early when the client has gone."""
    for _ in range(int(seconds * 4)):
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.25)


async def stream(request: Request, body: dict[str, Any], fault: str | None, state: State, delay: float) -> AsyncIterator[str]:
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake"}

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return f"data: {json.dumps({**head, 'choices': choices, **extra})}\n\n"

    reply = script(body)
    deltas = pieces(reply)
    if reply.code is None:
        yield chunk({"role": "assistant", "content": ""})
    for i, delta in enumerate(deltas):
        if i == CHUNKS_BEFORE_FAULT and fault == "HANG_MIDSTREAM":
            await idle(request, state.hang)
        if i == CHUNKS_BEFORE_FAULT and fault in ("FAIL_MIDSTREAM", "HANG_MIDSTREAM"):
            raise ScriptedAbort(f"{fault}: connection dropped after {i} chunks, as scripted")
        await asyncio.sleep(delay)
        yield chunk(delta)
    yield chunk({}, "stop" if reply.code is None else "tool_calls")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield chunk(None, usage=usage(body, len(deltas)))
    yield "data: [DONE]\n\n"


def completion(body: dict[str, Any]) -> dict[str, Any]:
    reply = script(body)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.code is not None:
        message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                                  "function": {"name": "run_python", "arguments": json.dumps({"code": reply.code})}}]
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "stop" if reply.code is None else "tool_calls"}],
            "usage": usage(body, len(pieces(reply)))}


def build_app(state: State) -> Starlette:
    async def completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "The request body is not valid JSON.", "invalid_request_error")
        state.requests.append(body)
        fault = fault_of(body)
        if fault and fault.startswith("FLAKY_500_THEN_OK"):
            key, failures = json.dumps(body.get("messages")), int(fault.partition(":")[2] or 2)
            state.flaky[key] = state.flaky.get(key, 0) + 1
            fault = "HTTP_500" if state.flaky[key] <= failures else None
        if fault == "HTTP_500":
            return error(500, "The server had an error while processing your request.", "server_error")
        if fault == "HTTP_429":
            return error(429, "Rate limit reached for fake-model. Please try again in 1s.", "requests",
                         "rate_limit_exceeded", {"Retry-After": "1"})
        if fault == "HANG":
            await idle(request, state.hang)
            return error(504, "The fake provider hung, as scripted.", "timeout")
        if not body.get("stream"):
            if fault == "FAIL_MIDSTREAM":
                raise ScriptedAbort("FAIL_MIDSTREAM before a non-streamed answer")
            return JSONResponse(completion(body))
        prompt, _ = split_turn(body.get("messages") or [])
        delay = int(m.group(1)) / 1000 if (m := DELAY.search(prompt)) else state.delay
        return StreamingResponse(stream(request, body, fault, state, delay), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
        return JSONResponse(state.requests)

    return Starlette(routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/_requests", requests, methods=["GET", "DELETE"]),
        Route("/_health", lambda r: PlainTextResponse("ok")),
    ])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with _LOCAL.open(url, timeout=1):
            return True
    except OSError:
        return False


def recorded(base_url: str) -> list[dict[str, Any]]:
    """The request bodies the fake has received; `base_url` as `run_fake_openai` yields it."""
    with _LOCAL.open(f"{base_url.removesuffix('/v1')}/_requests", timeout=5) as resp:
        return json.loads(resp.read())


@contextmanager
def run_fake_openai(port: int | None = None, log: Path | None = None, delay_ms: float = 10,
                    hang_seconds: float = 120) -> Iterator[str]:
    """Run the fake in a subprocess on 127.0.0.1; yields its base URL, `http://127.0.0.1:N/v1`."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="fake-openai-") as tmp:
        log = log or Path(tmp) / "fake-openai.log"
        cmd = [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port), "--delay-ms", str(delay_ms),
               "--hang-seconds", str(hang_seconds)]
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 20
        try:
            while not _answers(f"{base}/_health"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake OpenAI server did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
            yield f"{base}/v1"
        finally:
            proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop, bounded by its own 2 s timeout
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # only the subprocess needs it

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=10, help="pause between streamed chunks")
    parser.add_argument("--hang-seconds", type=float, default=120, help="upper bound of HANG and HANG_MIDSTREAM")
    args = parser.parse_args(argv)
    app = build_app(State(delay=args.delay_ms / 1000, hang=args.hang_seconds))
    # A short graceful shutdown: a request left hanging must not hold the test run's teardown.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
