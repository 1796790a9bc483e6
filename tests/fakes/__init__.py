"""Loopback stand-ins for paid services, so tests drive the real client code without a network."""

from __future__ import annotations
