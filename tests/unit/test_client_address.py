"""Which client address a socket's budgets are kept under: the peer, or behind trusted proxies the hop they saw."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from app.__main__ import uvicorn_options
from varro.client_address import ClientAddresses, parse_proxies
from varro.config import Settings

PROXIES = ClientAddresses(parse_proxies("10.0.0.5, 10.1.0.0/16"))


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert ClientAddresses().of("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"
    assert PROXIES.of("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"  # a peer that is not one of the proxies


def test_behind_a_trusted_proxy_the_hop_it_saw_is_the_client() -> None:
    assert PROXIES.of("10.0.0.5", ["203.0.113.9"]) == "203.0.113.9"
    assert PROXIES.of("10.0.0.5", []) == "10.0.0.5"  # nothing forwarded: the proxy's own request


def test_what_the_client_wrote_left_of_the_proxies_hops_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; the outer proxy appended the peer it saw, the inner one its own.
    assert PROXIES.of("10.0.0.5", ["1.1.1.1, 203.0.113.9, 10.1.2.3"]) == "203.0.113.9"
    assert PROXIES.of("10.0.0.5", ["1.1.1.1", "203.0.113.9"]) == "203.0.113.9"  # several headers are one list
    assert PROXIES.of("10.0.0.5", ["not-an-ip, 10.1.2.3"]) == "10.1.2.3"  # garbage: the last hop a proxy wrote
    assert PROXIES.of("10.0.0.5", ["10.1.0.9, 10.1.2.3"]) == "10.1.0.9"  # every hop a proxy: the farthest


def test_addresses_are_normalised_and_an_ipv6_site_is_one_client() -> None:
    assert PROXIES.of("10.0.0.5", ["203.0.113.9:4711"]) == "203.0.113.9"
    assert PROXIES.of("10.0.0.5", ["[2001:db8:1:2::1]:443"]) == "2001:db8:1:2::/64"
    assert ClientAddresses().of("2001:db8:1:2:aaaa::7") == ClientAddresses().of("2001:db8:1:2:bbbb::9")
    assert ClientAddresses().of("::ffff:192.0.2.1") == "192.0.2.1"
    assert ClientAddresses().of("testclient") == "testclient" and ClientAddresses().of(None) == "unknown"


def test_forwarded_headers_without_trusted_proxies_are_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    addresses = ClientAddresses()
    with caplog.at_level(logging.WARNING):
        addresses.of("127.0.0.1", ["203.0.113.9"])
        addresses.of("127.0.0.1", ["203.0.113.10"])
    assert [r.message for r in caplog.records if "VARRO_TRUSTED_PROXIES" in r.message] != []
    assert len(caplog.records) == 1


def test_the_setting_is_checked_at_start_and_uvicorn_is_told_the_same() -> None:
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.5, 10.0.0.300")
    assert Settings(trusted_proxies="10.0.0.5,10.1.0.0/16").proxy_networks == parse_proxies("10.0.0.5,10.1.0.0/16")
    assert uvicorn_options(Settings())["proxy_headers"] is False  # not uvicorn's default trust of loopback peers
    trusting = uvicorn_options(Settings(trusted_proxies="10.0.0.5"))
    assert trusting["proxy_headers"] is True and trusting["forwarded_allow_ips"] == "10.0.0.5"
