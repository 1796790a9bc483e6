"""Settings for Varro Chat, read from `VARRO_*` environment variables.

Every setting has a default that works on a fresh machine, so `python -m app` runs with none set.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from varro.agent.choices import ModelChoice, parse_models
from varro.client_address import Network, parse_proxies


class Settings(BaseSettings):
    """One settings object for the whole module; the host app may build its own and pass it in."""

    model_config = SettingsConfigDict(env_prefix="VARRO_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 5001
    database_url: str = "sqlite+aiosqlite:///data/varro.db"
    uploads_dir: Path = Path("data/uploads")
    # The kernel host's chat folders: never inside `data/`, which belongs to the web tier's (unprivileged) user.
    kernels_dir: Path = Path("kernels")
    secret_key: str | None = None
    model: str = "demo"
    # Models the page offers besides VARRO_MODEL: "model=Label,model=Label" (varro.agent.models.parse_models).
    models: str = ""
    # Half a frame: a delta waits 4 ms on average instead of 8, at most 125 frames a second reach the page
    # (docs/benchmarks.md has the trade-off measured for 0, 8, 16 and 33 ms). Under load the window widens to a
    # display frame or more (varro/chat/coalesce.py).
    stream_flush_ms: float = Field(8.0, ge=0)
    # The frames a second all of a process's streams share: with many at once, each sends fewer, fuller frames
    # (varro/chat/frame_budget.py). Far above what a few streams send; 0: no budget.
    stream_frames_per_s: float = Field(800.0, ge=0)
    demo_user: str | None = "demo"
    demo_tps: float = Field(60.0, ge=0)
    # Tests only: the folder whose files open the demo model's gates (`/stream N until GATE`); unset: none wait.
    demo_gates: Path | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    # The standalone app is served over HTTPS (behind a TLS proxy): its session cookie is `__Host-session`, Secure.
    https: bool = False
    # Host names the standalone app answers to; None: loopback names and VARRO_HOST. Required on a wildcard bind.
    allowed_hosts: list[str] | None = None
    # Demo sign-in (anyone is the demo user) on an address other machines reach: only when set, knowingly.
    demo_on_network: bool = False
    cell_timeout_s: float = Field(30.0, gt=0)
    # Kernel hosts (`python -m varro.kernels`), comma-separated URLs; empty: `python -m app` starts one on loopback.
    kernel_hosts: str = ""
    kernel_host_token: str = ""  # what the kernel hosts were given as VARRO_KERNEL_HOST_TOKEN
    # This app's chats on the kernel hosts, apart from other apps' sharing them: lowercase letters, digits, '-'.
    kernel_space: str = Field("main", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    # `python -m app` started as root runs the web tier as this user (the set-up creates it); the kernel host it
    # starts is the only process that stays root.
    user: str = "varro"
    max_chat_copies_mb: int = Field(1024, gt=0)  # files copied out of one chat's folder as downloads, in all
    # The settings below are the kernel host's (it reads the same environment); the web tier starts one with them.
    kernel_memory_mb: int = Field(2048, gt=0)
    # "off" runs code unsandboxed, as the server's user: only for a single trusted user on their own machine.
    sandbox: Literal["on", "off"] = "on"
    # The kernel's own Python environment (made by `make setup`); the server's packages are not in it.
    kernel_python: Path | None = None
    kernel_max_procs: int = Field(128, gt=8)  # processes and threads of one kernel
    kernel_workdir_mb: int = Field(1024, gt=0)  # a chat's working directory; also the largest single file
    kernel_tmp_mb: int = Field(256, gt=0)  # the kernel's private /tmp and /dev/shm, each
    sandbox_uid_base: int = Field(300_000, gt=0)
    # A kernel outlives its tab this long, so a reload or a return finds it as it was (0: shut down at once).
    kernel_idle_s: float = Field(600.0, ge=0)
    max_kernels_per_user: int = Field(2, ge=1)  # live and kept together; the least recently used goes first
    max_kernels: int = Field(50, ge=1)  # kept kernels on this server
    kernel_pool: int = Field(1, ge=0)  # kernels started ahead, so a new chat's first cell doesn't wait  # kernels run as uids from here on, one each, never the server's
    max_upload_mb: int = Field(50, gt=0)  # one file a user attaches to a chat
    max_message_chars: int = Field(20_000, gt=0)
    # A chat search stops after this long (and as soon as its client goes): a search can't hold a core.
    search_timeout_s: float = Field(3.0, gt=0)
    # Frames a user may send over all their sockets: a rate per second, and a burst on top (a person sends a few a minute).
    ws_frames_per_s: float = Field(10.0, gt=0)
    ws_frame_burst: int = Field(30, gt=0)
    # Catch-ups per user a second, and a burst: `hello` frames from a tab lacking stored turns (up to a batch's HTML).
    hello_per_s: float = Field(1.0, gt=0)
    hello_burst: int = Field(10, gt=0)
    # Frames a client address may send over all its users' sockets, a second and a burst: five users' worth, so one
    # address signing in as many accounts can't multiply the user's budget, while a small office behind one NAT
    # (a person sends a few frames a minute) never notices it.
    address_frames_per_s: float = Field(50.0, gt=0)
    address_frame_burst: int = Field(150, gt=0)
    # Sockets a client address may hold open at once. A user has one live socket (a newer tab closes the older), so
    # this is people at once behind one address: room for a classroom behind a NAT, while one address with many
    # accounts can't hold more live sessions (and kernels) than this. Behind a reverse proxy, see trusted_proxies.
    max_sockets_per_address: int = Field(50, ge=1)
    # Reverse proxies whose X-Forwarded-For is believed: comma-separated addresses or networks ("10.0.0.5,10.1.0.0/16").
    # None by default, so the peer is the client; behind a proxy not listed, every client is the proxy's address and
    # shares its budgets. The standalone app's uvicorn is told the same list (varro/client_address.py has the rule).
    trusted_proxies: str = ""
    # Sends and edits (a regeneration is one) a user may start a minute, saved up to a minute's worth; past that the
    # page says when to try again and keeps the text.
    turns_per_min: int = Field(20, ge=1)
    # The longest wait for a model provider: for its first output, and then between two streamed chunks.
    model_timeout_s: float = Field(120.0, gt=0)
    # Whether the model is sent the shell's figures: auto (its profile says, and a refusal turns it off), on, off.
    model_images: Literal["auto", "on", "off"] = "auto"
    # The model's context window in tokens: older turns are left out so that a request always fits. None: no limit.
    context_tokens: int | None = Field(None, gt=0)
    # Longest answer per model response, in tokens (sent as max_tokens). None: the provider's own limit.
    model_max_tokens: int | None = Field(None, gt=0)
    # Model requests one answer may make (each tool call costs one more): a model that keeps calling tools stops here.
    model_requests: int = Field(20, gt=0)
    # Chat titles by the model: "" (the chat's own model, never while it answers), "off", or another model string.
    title_model: str = ""
    # Turns running at once for one user: the live chat's and those that go on after their tab has left.
    max_runs_per_user: int = Field(2, ge=1)
    # Several processes as one app (varro/scale): Redis holds who has each user's live session. None: one process.
    redis_url: str | None = None
    redis_prefix: str = "varro:"  # every key and channel the chat uses in Redis starts with this
    lease_ttl_s: float = Field(5.0, gt=0)  # a dead process's users are free again after this long
    trace_file: Path | None = None  # benchmarks only: log when each frame leaves and which deltas it carries

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, text: str) -> str:
        parse_proxies(text)  # a typo fails at start-up rather than trusting nothing, or the wrong hosts
        return text

    @property
    def model_choices(self) -> list[ModelChoice]:
        return parse_models(self.models, self.model)

    @property
    def proxy_networks(self) -> list[Network]:
        return parse_proxies(self.trusted_proxies)

    @property
    def trusted_hosts(self) -> list[str]:
        """Refusing other Host headers stops DNS rebinding: a page on evil.example whose name now points to
        127.0.0.1 is same-origin with itself, so only the Host tells it apart from the real app."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return sorted({"127.0.0.1", "localhost", "[::1]"} | (set() if self.wildcard_bind else {self.host}))

    @property
    def wildcard_bind(self) -> bool:
        return self.host in ("0.0.0.0", "::", "")

    @property
    def loopback_bind(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: it may resolve anywhere
            return False

    @property
    def kernel_host_list(self) -> list[str]:
        return [url.strip() for url in self.kernel_hosts.split(",") if url.strip()]

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the URL is SQLite, so start-up can create its folder."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix(prefix))
        return None
