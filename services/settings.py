"""One settings object, loaded once: where NATS, PostgreSQL, HTTP and the data directory are.

Keys come from the environment (`DOINGOAI_*`) or from a file with the same keys: `doingoai.env`
in the working directory, or the file named by `DOINGOAI_CONFIG`. With no URL set, the system
runs NATS and PostgreSQL itself under the data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from services.oidc.config import OidcProvider, OidcSettings


class BadSettings(ValueError):
    """A setting that cannot be used; the message is one line naming it and why."""


class Unreachable(RuntimeError):
    """A server the system needs cannot be reached as its own: nothing answers, something else
    answers, or it refuses the system's credentials. The message is one line naming it and why."""


class Settings(OidcSettings):
    """Every setting; the OpenID Connect sign-in's (`oidc_*`) are declared in `services.oidc.config`."""

    model_config = SettingsConfigDict(
        env_prefix="DOINGOAI_",
        env_file=(os.environ.get("DOINGOAI_CONFIG") or "doingoai.env"),
        extra="ignore",
    )

    nats_url: str | None = Field(None, description="NATS server URL(s), comma-separated for a cluster")
    database_url: str | None = Field(None, description="PostgreSQL URL (postgresql://...)")
    http: str = Field("http://127.0.0.1:8080", description="Address the HTTP service listens on")
    data_dir: Path = Field(Path.home() / ".local/share/doingoai", description="Where embedded data lives")
    nats_user: str | None = Field(None, description="NATS user of the services (external NATS)")
    nats_password: str | None = Field(None, description="NATS password of the services (external NATS)")
    dedup_window_s: float = Field(3600.0, description="JetStream duplicate window (seconds)")
    stream_replicas: int = Field(1, ge=1, le=5, description="Replicas of the event stream (R3 on a cluster)")
    projection_batch: int = Field(2000, ge=1, le=10_000, description="Events applied per transaction")
    ack_wait_s: float = Field(30.0, description="JetStream ack wait of projection consumers (seconds)")
    escalations: bool = Field(True, description="Run the escalation service in the worker")
    partitions: int = Field(1, ge=1, le=64, description="> 1: one projection unit per province, shared by workers")
    workers: int = Field(1, ge=0, le=32, description="Projection worker processes `up` runs (0: run them yourself)")
    http_workers: int = Field(default_factory=lambda: 2 if (os.cpu_count() or 1) >= 2 else 1, ge=1, le=32,
                              description=("Processes serving HTTP (`up`'s own and the others it starts), sharing "
                                           "its address (default: 2 on two cores or more, else 1)"))
    lease_ttl_s: float = Field(8.0, gt=1, description="A dead worker's units are taken over after this")
    escalation_tick_s: float = Field(60.0, gt=0, description="Seconds between escalation evaluations")
    audit_key: Path | None = Field(None, description="Ed25519 key signing audit heads (default: data dir)")
    audit_sign_every: int = Field(1000, ge=1, description="Sign the audit chain head every N sequences")
    allowed_hosts: str | None = Field(
        None, description="Host names the HTTP service answers, comma-separated (default: the host of `http`, "
                          "localhost, 127.0.0.1); a request naming another host gets 400")
    api_docs: bool = Field(False, description="Serve the interactive API docs at /docs (they load from a CDN)")
    rejected_quota_bytes: int = Field(16 * 1024 * 1024, ge=0, description=(
        "Bytes of refused events kept per publishing agency per hour over HTTP; beyond: 429 (0: no quota)"))
    rejected_max_bytes: int = Field(1024**3, ge=1024 * 1024, description=(
        "Most bytes the rejected-events stream holds; the oldest rejections go first"))
    rejected_max_age_days: float = Field(180, gt=0, description="Rejections older than this leave the stream")
    attachment_max_mb: float = Field(20, gt=0, le=1024, description=(
        "Largest file (PDF or .docx) an event may carry, in MB (2^20 bytes); a larger upload gets 413"))
    disk_reserve_mb: int = Field(256, ge=0, description=(
        "Free MiB the data directory's disk keeps: with less, events are refused (507 storage_full) before "
        "the embedded servers run out of space (0: no reserve)"))

    @property
    def attachment_max_bytes(self) -> int:
        return int(self.attachment_max_mb * 1024 * 1024)

    @field_validator("http")
    @classmethod
    def _http_address(cls, value: str) -> str:
        """`http://host:port` or `host:port` (every command alike), kept as `http://host:port`."""
        scheme, sep, rest = value.strip().partition("://")
        if not sep:
            scheme, rest = "http", value.strip()
        if scheme not in ("http", "https"):
            raise ValueError(f"{value!r}: the scheme must be http or https")
        host, _, port = rest.rstrip("/").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
            raise ValueError(f"{value!r} is not host:port or http://host:port (e.g. 127.0.0.1:8080)")
        return f"{scheme}://{host}:{int(port)}"

    @property
    def embedded(self) -> bool:
        return not self.nats_url and not self.database_url

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]

    @property
    def hosts(self) -> list[str]:
        """The host names the HTTP service answers (`allowed_hosts`)."""
        if self.allowed_hosts:
            return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        return sorted({self.http_host_port[0], "localhost", "127.0.0.1"})

    @property
    def oidc(self) -> OidcProvider | None:
        """The OpenID provider people may sign in with, if one is configured."""
        return self.oidc_provider(self.http)

    @property
    def http_host_port(self) -> tuple[str, int]:
        rest = self.http.split("://", 1)[-1].rstrip("/")
        host, _, port = rest.rpartition(":")
        return (host or "127.0.0.1", int(port or 8080))


def load() -> Settings:
    """The settings, checked once: `BadSettings` (one line) for a value that cannot be used."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule between settings: its message names them
            raise BadSettings(message) from None
        name = "DOINGOAI_" + "_".join(str(p) for p in first["loc"]).upper()
        raise BadSettings(f"{name}: {message}") from None
    except SettingsError as exc:  # a value the settings sources could not even read
        raise BadSettings(str(exc).split("\n")[0]) from None
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings
