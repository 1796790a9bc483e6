"""Fixtures shared by the unit tests of the HTTP routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fasthtml.common import FastHTML
from starlette.testclient import TestClient

from tests.unit.test_routes import BROWSER


@pytest.fixture
def clients(app: FastHTML) -> Iterator[tuple[TestClient, TestClient]]:
    """Alice and Bob, each signed in to the test module's `app` (its own fixture)."""
    with TestClient(app, headers=BROWSER) as alice, TestClient(app, headers=BROWSER) as bob:
        alice.get("/login/alice")
        bob.get("/login/bob")
        yield alice, bob
