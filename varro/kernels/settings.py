"""The kernel host's settings, from `VARRO_*` environment variables like the web tier's (the shared ones keep the
same names, so one environment configures a one-machine install)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VARRO_", extra="ignore")

    # Every request must carry it (`Authorization: token ...`); the web tier is given the same.
    kernel_host_token: str = ""
    kernel_host_bind: str = "127.0.0.1"  # loopback unless told otherwise
    kernel_host_port: int = Field(8765, ge=0, le=65535)  # 0: any free port (the chosen one is printed)
    kernels_dir: Path = Path("kernels")  # chat folders under chats/, pooled kernels' folders under pool/
    sandbox: Literal["on", "off"] = "on"
    kernel_python: Path | None = None
    kernel_memory_mb: int = Field(2048, gt=0)
    kernel_max_procs: int = Field(128, gt=8)
    kernel_workdir_mb: int = Field(1024, gt=0)
    kernel_tmp_mb: int = Field(256, gt=0)
    sandbox_uid_base: int = Field(300_000, gt=0)
    kernel_idle_s: float = Field(600.0, ge=0)  # a kernel nobody is connected to is let go after this long
    max_kernels_per_user: int = Field(2, ge=1)
    max_kernels: int = Field(50, ge=1)
    kernel_pool: int = Field(1, ge=0)
    # Where chat folders are kept beyond this host: "" (this host's disk) or a PostgreSQL URL that every kernel host
    # of the pool shares, so that a chat whose host died goes on on another one with its files and snapshots.
    kernel_store: str = ""
