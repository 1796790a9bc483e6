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
with these exact messages get 500). A prompt whose first line is `ECHO` is answered with the rest of it,
verbatim, in 3-character chunks (hostile text split mid-tag, for the XSS tests); its title is that text too.
A conversation with `TEXT_ONLY` in any user message is served by a text-only model: a request carrying an
image is answered as llama.cpp answers it, HTTP 500 "image input is not supported".
`GET /_requests` lists every request body, `DELETE` forgets them. Like llama-server, `GET /v1/models` lists the
one model it serves (`--serves NAME`; without it the route is 404, as on a server that lists none) whatever name a
request asks for, and `POST /tokenize` counts `content` as `TOKEN`'s matches (a word, or one other character).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes import LOCAL, run_fake

FENCE = re.compile(r"```python[^\n]*\n(.*?)```", re.DOTALL)
# Longest first, so HANG_MIDSTREAM is not read as HANG.
FAULT = re.compile(r"\b(FAIL_MIDSTREAM|HANG_MIDSTREAM|FLAKY_500_THEN_OK(?::\d+)?|HTTP_500|HTTP_429|HANG)\b")
DELAY = re.compile(r"\bDELAY_MS=(\d+)\b")
CHUNKS_BEFORE_FAULT = 5
ECHO = "ECHO\n"
ECHO_CHUNK = 3
Body = dict[str, Any]


class ScriptedAbort(Exception):
    """Raised inside a streaming body: uvicorn then closes the connection without ending the body."""


TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[int]:
    return [hash(t) % 50_000 for t in TOKEN.findall(text)]


@dataclass
class State:
    serves: str = ""
    delay: float = 0.01
    hang: float = 120.0
    requests: list[Body] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)  # 500s already given, by exact message list


class Reply(NamedTuple):
    text: str = ""
    code: str | None = None  # a run_python call with this code instead of text
    chunk: int = 0  # stream the text in pieces of this many characters (0: word by word)


def text_of(content: Any) -> str:
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")


def split_turn(body: Body) -> tuple[str, list[str]]:
    """The turn's prompt and the tool results since it; a user message right after a tool result carries
    the tool's images (that is how pydantic-ai sends them), so it is not a new prompt."""
    prompt, results, previous = "", [], None
    for m in body.get("messages") or []:
        role = m.get("role")
        if role == "user" and previous != "tool":
            prompt, results = text_of(m.get("content")), []
        elif role == "tool":
            results.append(text_of(m.get("content")))
        previous = role
    return prompt, results


def script(body: Body) -> Reply:
    prompt, results = split_turn(body)
    fences = FENCE.findall(prompt)
    if body.get("tools") and len(results) < len(fences):
        return Reply(code=fences[len(results)].rstrip("\n"))
    if prompt.startswith(ECHO) and not results:
        return Reply(prompt.removeprefix(ECHO), chunk=ECHO_CHUNK)
    if results:
        return Reply(f"The shell returned:\n\n```\n{results[-1].strip()}\n```\n\nThat is the result of the code.")
    if not body.get("tools") and re.search(r"\btitle\b", prompt, re.IGNORECASE):
        return Reply("Fake chat about " + " ".join(FENCE.sub("", prompt).split()[-4:]))
    return Reply(f"## Answer from the fake provider\n\nYou asked: “{' '.join(prompt.split()[:8])}”. This reply is "
                 "scripted, and it is streamed in small chunks so that every piece can be seen arriving.\n\n"
                 "- first, a point about streaming\n- second, a point about markdown\n- third, a point about "
                 "history\n\nThat is all for now; ask again and the conversation goes on with all said so far.\n")


def carries_image(body: Body) -> bool:
    return any(isinstance(p, dict) and p.get("type") == "image_url"
               for m in body.get("messages") or [] if isinstance(m.get("content"), list) for p in m["content"])


def text_only(body: Body) -> bool:
    return any("TEXT_ONLY" in text_of(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "user")


def fault_of(body: Body) -> str | None:
    prompt, results = split_turn(body)
    found = FAULT.search(results[-1] if results else FENCE.sub("", prompt))
    return found.group(1) if found else None


def tool_call(code: str) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": "run_python", "arguments": json.dumps({"code": code})}}


def deltas(reply: Reply) -> list[dict[str, Any]]:
    """Words of text; or a tool call whose JSON arguments then come 8 characters at a time."""
    if reply.code is None:
        pieces = ([reply.text[i:i + reply.chunk] for i in range(0, len(reply.text), reply.chunk)] if reply.chunk
                  else re.findall(r"\s*\S+\s*", reply.text))
        return [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
    call = tool_call(reply.code)
    args, call["function"]["arguments"] = call["function"]["arguments"], ""
    tail = [{"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 8]}}]} for i in range(0, len(args), 8)]
    return [{"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}, *tail]


def envelope(body: Body, kind: str, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()),
            "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake", "choices": choices, **extra}


def usage(body: Body, completion: int) -> dict[str, int]:
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


async def stream(request: Request, body: Body, fault: str | None, state: State, delay: float) -> AsyncIterator[str]:
    reply = script(body)
    head = envelope(body, "chat.completion.chunk", [])  # one id for every chunk of the response

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return f"data: {json.dumps({**head, 'choices': choices, **extra})}\n\n"

    parts = deltas(reply)
    for i, delta in enumerate(parts):
        if i == CHUNKS_BEFORE_FAULT and fault == "HANG_MIDSTREAM":
            await idle(request, state.hang)
        if i == CHUNKS_BEFORE_FAULT and fault in ("FAIL_MIDSTREAM", "HANG_MIDSTREAM"):
            raise ScriptedAbort(f"{fault}: connection dropped after {i} chunks, as scripted")
        await asyncio.sleep(delay if i else 0)
        yield chunk(delta)
    yield chunk({}, "stop" if reply.code is None else "tool_calls")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield chunk(None, usage=usage(body, len(parts)))
    yield "data: [DONE]\n\n"


def completion(body: Body) -> dict[str, Any]:
    reply = script(body)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.code is not None:
        message["tool_calls"] = [tool_call(reply.code)]
    finish = "stop" if reply.code is None else "tool_calls"
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return envelope(body, "chat.completion", [choice], usage=usage(body, len(deltas(reply))))


def build_app(state: State) -> Starlette:
    async def completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "The request body is not valid JSON.", "invalid_request_error")
        state.requests.append(body)
        if text_only(body) and carries_image(body):
            return error(500, "image input is not supported", "server_error")
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
            if fault in ("FAIL_MIDSTREAM", "HANG_MIDSTREAM"):
                raise ScriptedAbort(f"{fault} before a non-streamed answer")  # the client gets a bare 500
            return JSONResponse(completion(body))
        delay = int(m.group(1)) / 1000 if (m := DELAY.search(split_turn(body)[0])) else state.delay
        return StreamingResponse(stream(request, body, fault, state, delay), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def models(request: Request) -> Response:
        if not state.serves:
            return error(404, "File Not Found", "not_found_error")
        return JSONResponse({"object": "list", "data": [{"id": state.serves, "object": "model", "owned_by": "fake"}]})

    async def tokenize_route(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"tokens": tokenize(str(body.get("content", "")))})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
        return JSONResponse(state.requests)

    return Starlette(routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models),
        Route("/tokenize", tokenize_route, methods=["POST"]),
        Route("/_requests", requests, methods=["GET", "DELETE"]),
        Route("/_health", lambda r: PlainTextResponse("ok")),
    ])


def recorded(base_url: str) -> list[Body]:
    """The request bodies the fake has received; `base_url` as `run_fake_openai` yields it."""
    with LOCAL.open(f"{base_url.removesuffix('/v1')}/_requests", timeout=5) as resp:
        return json.loads(resp.read())


@contextmanager
def run_fake_openai(port: int | None = None, log: Path | None = None, delay_ms: float = 10,
                    hang_seconds: float = 120, serves: str = "") -> Iterator[str]:
    """Run the fake in a subprocess on 127.0.0.1; yields its base URL, `http://127.0.0.1:N/v1`."""
    args = ["--delay-ms", str(delay_ms), "--hang-seconds", str(hang_seconds), "--serves", serves]
    with run_fake("tests.fakes.openai_server", port, log, *args) as base:
        yield f"{base}/v1"


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # only the server process needs it

    parser = argparse.ArgumentParser(description="Fake OpenAI Chat Completions server for loopback tests.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=10, help="pause between streamed chunks")
    parser.add_argument("--hang-seconds", type=float, default=120, help="upper bound of HANG and HANG_MIDSTREAM")
    parser.add_argument("--serves", default="", help="the model GET /v1/models lists (none: 404)")
    args = parser.parse_args(argv)
    state = State(serves=args.serves, delay=args.delay_ms / 1000, hang=args.hang_seconds)
    # A short graceful shutdown, so a request left hanging cannot hold up a test run's teardown.
    uvicorn.run(build_app(state), host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
