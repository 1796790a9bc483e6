"""The settings the standalone app refuses to start with: they would open it to more than its operator can have meant.

Light on purpose: `python -m app` checks them before it imports the rest of the app (see app/__main__.py).
"""

from __future__ import annotations

from varro.config import Settings


class UnsafeExposure(ValueError):
    """The settings would open the app to more than its operator can have meant: it refuses to start."""


def check_exposure(settings: Settings) -> None:
    """Refuse the two settings that turn any web page the user visits into code execution on this machine."""
    if settings.wildcard_bind and settings.allowed_hosts is None:
        raise UnsafeExposure(
            f"VARRO_HOST={settings.host or '(empty)'} listens on every address, so the app would answer any Host "
            "header: a web page could reach it through DNS rebinding. Set VARRO_ALLOWED_HOSTS to the names it is "
            'served under, e.g. VARRO_ALLOWED_HOSTS=\'["chat.example.org"]\'.')
    if settings.demo_user and not settings.loopback_bind and not settings.demo_on_network:
        raise UnsafeExposure(
            f"demo mode signs in anyone who opens the page as {settings.demo_user!r}, and the chat runs code; on "
            f"VARRO_HOST={settings.host or '(empty)'} that is anyone who can reach this machine. Mount the chat in an "
            "app that signs users in (and set VARRO_DEMO_USER= to empty), or set VARRO_DEMO_ON_NETWORK=1 if that is "
            "really what you want.")
