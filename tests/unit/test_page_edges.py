"""Rough edges of the routes and the socket a user met: exports of any title, bounded indexes, errors told plainly."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from tests.unit.test_routes import ORIGIN, app, new_chat
from varro.chat.session import ChatSession

__all__ = ["app"]  # the fixture `clients` signs in to


@pytest.mark.parametrize("title", ["Отчёт о продажах", "销售报告", "Ünïcödé ✓ report"])
def test_export_downloads_a_chat_whatever_its_title(clients: tuple[TestClient, TestClient], title: str) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    alice.post(f"/chat/{chat}/rename", data={"title": title})
    for fmt in ("md", "ipynb"):
        resp = alice.get(f"/chat/{chat}/export.{fmt}")
        assert resp.status_code == 200, (title, fmt)
        disposition = resp.headers["content-disposition"]
        assert disposition.startswith("attachment;") and disposition.isascii()
        encoded = disposition.split("filename*=UTF-8''", 1)[1]
        assert unquote(encoded).endswith(f".{fmt}") and title.split()[0].lower() in unquote(encoded)


def test_copy_answer_refuses_an_index_past_the_database(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    for query in ["k=" + "9" * 40 + "&n=0", "k=0&n=" + "9" * 40, "k=-1&n=0", "k=x&n=0", "k=0"]:
        resp = alice.get(f"/chat/{chat}/answer?{query}")
        assert resp.status_code == 404, query


def test_an_internal_value_error_is_not_echoed(clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A `ValueError` from deep inside (here: a library's) is logged and told as a fault, without its own text."""
    def broken(self: ChatSession, *args: Any, **kwargs: Any) -> None:
        raise ValueError("invalid literal for int() with base 10: '/srv/varro/secret'")

    monkeypatch.setattr(ChatSession, "send", broken)
    alice, _ = clients
    chat = new_chat(alice)
    with caplog.at_level(logging.ERROR, "varro.ws"), \
            alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text('{"action": "send", "msg": "hello"}')
        reply = ws.receive_text()
        assert "Something went wrong" in reply and "secret" not in reply and "invalid literal" not in reply
    assert any("invalid literal" in (r.exc_text or "") for r in caplog.records)


def test_a_runtime_error_in_the_socket_loop_is_logged_and_the_socket_stays(
        clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def broken(self: ChatSession, *args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise RuntimeError("event loop is closed")

    monkeypatch.setattr(ChatSession, "send", broken)
    alice, _ = clients
    chat = new_chat(alice)
    with caplog.at_level(logging.ERROR, "varro.ws"), \
            alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text('{"action": "send", "msg": "hello"}')
        assert "Something went wrong" in ws.receive_text()
        ws.send_text('{"action": "send", "msg": "again"}')  # still up: the second frame is handled too
        assert "Something went wrong" in ws.receive_text()
    assert len(calls) == 2
    assert sum("event loop is closed" in (r.exc_text or "") for r in caplog.records) == 2
