"""The hotdeploy.toml model (pydantic v2): every key typed, unknown keys rejected.

Defaults are the named constants of `hotdeploy.defaults`. Durations accept nginx's units
("30s", "500ms") and are stored as float seconds. Cross-field rules (unique routes, one of
`app`/`command`, backups need a primary) live in validators here so that every caller --
CLI, control process, tests -- sees the same errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from hotdeploy import defaults as d
from hotdeploy.config.addresses import parse_endpoint
from hotdeploy.units import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,40}$")]
BalancerStrategy = Literal["active-active", "active-active-health", "active-passive"]
Method = Literal["round_robin", "least_conn", "ip_hash", "hash", "random"]
DeployStrategy = Literal["rolling", "blue-green", "canary"]
Engine = Literal["builtin", "nginx"]
NginxMode = Literal["auto", "live", "reload"]
_PATH = r"^/[A-Za-z0-9._~/-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Strict):
    name: Name


class HealthCheckSection(_Strict):
    """Active checks (NGINX Plus `health_check`), run by the balancer on every instance."""

    uri: Annotated[str, Field(pattern=_PATH)] = d.PROJECT_HEALTH_URI
    interval: Duration = d.PROJECT_HEALTH_INTERVAL
    fails: Annotated[int, Field(ge=1)] = d.DEFAULT_HEALTH_CHECK_FAILS
    passes: Annotated[int, Field(ge=1)] = d.DEFAULT_HEALTH_CHECK_PASSES


class BalancerSection(_Strict):
    listen: str = d.PROJECT_LISTEN
    strategy: BalancerStrategy = "active-active-health"
    method: Method = "round_robin"
    hash_key: str = "$remote_addr"  # only for method = "hash"
    max_fails: Annotated[int, Field(ge=0)] = d.PROJECT_MAX_FAILS
    fail_timeout: Duration = d.PROJECT_FAIL_TIMEOUT
    health_check: HealthCheckSection = HealthCheckSection()
    keepalive: Annotated[int, Field(ge=0)] = d.PROJECT_UPSTREAM_KEEPALIVE
    slow_start: Duration = 0.0
    # nginx never retries a POST/LOCK/PATCH once it was sent (it may have been acted on), so a
    # crash of an instance while it handles one reaches the client as a 502. Services whose
    # writes are idempotent can turn this on (`proxy_next_upstream ... non_idempotent`).
    retry_non_idempotent: bool = False
    # The admin API listener; port 0 picks a free loopback port when the balancer starts.
    admin_listen: str = d.PROJECT_ADMIN_LISTEN
    # Who routes: the built-in balancer (`hotdeploy lb`) or the system's open-source nginx.
    engine: Engine = "builtin"
    nginx: str | None = None  # the nginx binary; default: on PATH, else /usr/sbin/nginx
    # live: the Lua balancer (needs libnginx-mod-http-lua); reload: servers in an include
    # file, one reload per change; auto: live when the Lua module is there.
    nginx_mode: NginxMode = "auto"

    @field_validator("listen", "admin_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_host_port(value)
        return value

    @model_validator(mode="after")
    def _backup_needs_round_robin(self) -> BalancerSection:
        # nginx: "backup" cannot be combined with hash, ip_hash and random balancing.
        if self.strategy == "active-passive" and self.method not in ("round_robin", "least_conn"):
            raise ValueError(
                f"strategy \"active-passive\" needs method round_robin or least_conn "
                f"(nginx does not allow backup servers with {self.method})"
            )
        return self


VersionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
# Kubernetes' binary quantities ("512Mi", "2Gi"; a bare number is bytes): one spelling that the
# Kubernetes export passes on as is and the Docker runtime, Compose and systemd convert
# (units.memory_bytes).
Memory = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,15}(Ki|Mi|Gi|Ti)?$")]


class AutoscaleSection(_Strict):
    """Instances between `min` and `max`. The control process (local, docker and ssh
    runtimes) aims at `inflight` requests in flight per instance, as the balancer counts them
    (orchestrator.autoscale); Kubernetes' HorizontalPodAutoscaler aims at `cpu` percent of the
    CPU request instead."""

    min: Annotated[int, Field(ge=1, le=1000)]
    max: Annotated[int, Field(ge=1, le=1000)]
    cpu: Annotated[int, Field(ge=1, le=1000)] = d.AUTOSCALE_CPU
    inflight: Annotated[int, Field(ge=1, le=100000)] = d.AUTOSCALE_INFLIGHT
    window: Annotated[Duration, Field(gt=0)] = d.AUTOSCALE_WINDOW
    # At most an hour: the longest stabilization window Kubernetes accepts (the export
    # carries it over).
    cooldown: Annotated[Duration, Field(ge=0, le=3600)] = d.AUTOSCALE_COOLDOWN

    @model_validator(mode="after")
    def _ordered(self) -> AutoscaleSection:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


RuntimeKind = Literal["local", "docker", "ssh"]
# `[user@]host[:port]`, the host a name or an address (IPv6 in brackets).
_SSH_HOST = r"^([A-Za-z0-9._-]+@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?$"
SshHostText = Annotated[str, Field(pattern=_SSH_HOST)]


class RuntimeSection(_Strict):
    """Where instances run: `[runtime]` for the project, `[services.NAME.runtime]` (or
    `[units.NAME.runtime]`) to override some keys for one; the docker keys are ignored by the
    local runtime. Merged key by key (`Project.runtime_of`), `env` entry by entry."""

    kind: RuntimeKind = "local"
    base_image: str = d.DOCKER_BASE_IMAGE
    dockerfile: str | None = None  # the user's own, relative to the service's `path`
    network: Literal["bridge", "host"] = "bridge"
    # Resources of each instance: limits for containers (and requests in the Kubernetes
    # export), MemoryMax/CPUQuota in the systemd export; the local runtime does not limit.
    memory: Memory | None = None  # "512Mi"
    cpus: Annotated[float, Field(gt=0, le=256)] | None = None
    stop_grace: Duration | None = None  # default: [deploy].stop_grace
    env: dict[str, str] = {}
    volumes: tuple[str, ...] = ()  # "host:container[:ro]"; a relative host path: project dir
    docker_host: str | None = None  # default: $DOCKER_HOST, else the local socket
    # --- kind = "ssh": VMs reached over SSH ----------------------------------------------------
    hosts: tuple[SshHostText, ...] = ()  # "deploy@vm1", "deploy@vm2:2222"
    identity_file: str | None = None  # default: the SSH agent and ~/.ssh keys
    known_hosts: str | None = None  # default: ~/.ssh/known_hosts; host keys are always checked
    remote_dir: str | None = None  # default: /opt/hotdeploy/<project>
    # How instances are kept on the hosts: "systemd" (a unit each), "process" (detached,
    # tracked by pid file), "auto" (systemd where `systemctl is-system-running` answers).
    supervisor: Literal["auto", "process", "systemd"] = "auto"
    python: str = "python3"  # the interpreter on the hosts (with hotdeploy installed)
    bind: str = "0.0.0.0"  # where instances listen on their host

    @field_validator("dockerfile")
    @classmethod
    def _dockerfile_relative(cls, value: str | None) -> str | None:
        if value is not None and (not value or value.startswith("/") or ".." in value.split("/")):
            raise ValueError("expected a path inside the service's `path`, e.g. \"Dockerfile\"")
        return value

    @field_validator("volumes")
    @classmethod
    def _volume(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for volume in value:
            parts = volume.split(":")
            if len(parts) not in (2, 3) or not all(parts[:2]) or parts[2:] not in ([], ["ro"],
                                                                                   ["rw"]):
                raise ValueError(f"volume {volume!r}: expected \"host:container\" or "
                                 f"\"host:container:ro\"")
        return value

    def merged(self, override: RuntimeSection | None) -> RuntimeSection:
        """These settings with the keys `override` sets explicitly replaced."""
        if override is None:
            return self
        changes = {k: getattr(override, k) for k in override.model_fields_set}
        changes["env"] = {**self.env, **override.env}
        return self.model_copy(update=changes)


class _Deployable(_Strict):
    health: Annotated[str, Field(pattern=_PATH)] | None = None  # default: balancer's uri
    instances: Annotated[int, Field(ge=1, le=64)] = 1
    # The first release's name; none: the release is named by its content digest.
    version: VersionName | None = None
    env: dict[str, str] = {}
    # The source directory a release snapshots, relative to the project file.
    path: str = "."
    # Patterns left out of the release (gitignore-like: `name`, `dir/`, `sub/path/*.log`), on
    # top of defaults.RELEASE_ALWAYS_EXCLUDED.
    exclude: tuple[str, ...] = ()
    strategy: DeployStrategy | None = None  # overrides [deploy].strategy for this one
    # --- platform hints, read by the exports (memory and cpus are [runtime] keys).
    autoscale: AutoscaleSection | None = None
    # The path where the instance serves Prometheus metrics (scraped by the platform's
    # Prometheus); none: it serves none.
    metrics: Annotated[str, Field(pattern=_PATH)] | None = None


    runtime: RuntimeSection | None = None  # overrides keys of [runtime] for this one

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or value.startswith("/"):
            raise ValueError("expected a directory relative to the project file, e.g. \".\"")
        return value


class ServiceSection(_Deployable):
    """Decentralized: one component, deployed and scaled on its own."""

    app: str | None = None  # "module:attr", an ASGI app run by the built-in runtime
    command: str | None = None  # any executable; {port} and $PORT give its port
    route: Annotated[str, Field(pattern=_PATH)] | None = None  # default "/<name>"

    @field_validator("app")
    @classmethod
    def _app_ref(cls, value: str | None) -> str | None:
        if value is not None:
            check_app_ref(value)
        return value

    @model_validator(mode="after")
    def _one_entry_point(self) -> ServiceSection:
        if (self.app is None) == (self.command is None):
            raise ValueError("exactly one of \"app\" or \"command\" is required")
        return self


class UnitSection(_Deployable):
    """Centralized: several artifacts mounted in one process, deployed together."""

    artifacts: dict[str, str]

    @field_validator("artifacts")
    @classmethod
    def _artifacts(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("expected at least one artifact: { name = \"module:app\" }")
        for name, ref in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
                raise ValueError(f"artifact name {name!r}: expected lower-case letters/digits")
            check_app_ref(ref)
        return value


class CanarySection(_Strict):
    steps: tuple[Annotated[int, Field(ge=1, le=100)], ...] = d.CANARY_STEPS
    pause: Duration = d.CANARY_PAUSE
    # Roll back when the canary's 5xx rate exceeds the baseline's by more than this share.
    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = d.CANARY_MAX_ERROR_INCREASE
    # ... or its mean response time is more than this many times the baseline's.
    max_latency_ratio: Annotated[float, Field(gt=1)] = d.CANARY_MAX_LATENCY_RATIO
    min_requests: Annotated[int, Field(ge=1)] = d.CANARY_MIN_REQUESTS

    @field_validator("steps")
    @classmethod
    def _ascending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or list(value) != sorted(set(value)) or value[-1] != 100:
            raise ValueError("expected ascending percentages ending with 100, e.g. [10, 50, 100]")
        return value


class RestartSection(_Strict):
    backoff: Duration = d.RESTART_BACKOFF_BASE
    max_backoff: Duration = d.RESTART_BACKOFF_MAX
    max_restarts: Annotated[int, Field(ge=0)] = d.RESTART_MAX
    window: Duration = d.RESTART_WINDOW


class DeploySection(_Strict):
    strategy: DeployStrategy = "rolling"
    max_surge: Annotated[int, Field(ge=0)] = 1
    max_unavailable: Annotated[int, Field(ge=0)] = 0
    drain_timeout: Duration = d.DEPLOY_DRAIN_TIMEOUT
    health_timeout: Duration = d.DEPLOY_HEALTH_TIMEOUT
    stop_grace: Duration = d.INSTANCE_STOP_GRACE
    blue_green_keep: Duration = d.BLUE_GREEN_KEEP
    keep_releases: Annotated[int, Field(ge=1)] = d.DEPLOY_KEEP_RELEASES
    canary: CanarySection = CanarySection()
    restart: RestartSection = RestartSection()

    @model_validator(mode="after")
    def _progress_possible(self) -> DeploySection:
        if self.max_surge + self.max_unavailable < 1:
            raise ValueError("max_surge + max_unavailable must be at least 1 (or no step can run)")
        return self


class Project(_Strict):
    project: ProjectSection
    balancer: BalancerSection = BalancerSection()
    services: dict[Name, ServiceSection] = {}
    units: dict[Name, UnitSection] = {}
    deploy: DeploySection = DeploySection()
    runtime: RuntimeSection = RuntimeSection()

    @model_validator(mode="after")
    def _consistent(self) -> Project:
        both = set(self.services) & set(self.units)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both a service and a unit: names are shared")
        if not self.services and not self.units:
            raise ValueError("expected at least one [services.NAME] or [units.NAME] table")
        seen: dict[str, str] = {}
        for owner, routes in self.routes().items():
            for route in routes:
                if route in seen:
                    raise ValueError(
                        f"{self.key_of(owner)}: route {route!r} is already used by "
                        f"{self.key_of(seen[route])}")
                seen[route] = owner
        for name in self.deployables():
            runtime = self.runtime_of(name)
            if runtime.kind == "ssh" and not runtime.hosts:
                raise ValueError(f"{self.key_of(name)}: runtime kind \"ssh\" needs "
                                 f"`hosts = [\"user@vm1\", ...]` in [runtime]")
        if self.balancer.strategy == "active-passive":
            for name, dep in self.deployables().items():
                if dep.instances < 2:
                    raise ValueError(
                        f"{self.key_of(name)}.instances: balancer strategy active-passive needs "
                        f"instances >= 2 (a primary and a backup)")
                if dep.autoscale is not None and dep.autoscale.min < 2:
                    raise ValueError(
                        f"{self.key_of(name)}.autoscale.min: balancer strategy active-passive "
                        f"needs min >= 2 (a primary and a backup)")
        return self

    def key_of(self, name: str) -> str:
        """The table a service or unit is defined in, for error messages."""
        return f"units.{name}" if name in self.units else f"services.{name}"

    def deployables(self) -> dict[str, ServiceSection | UnitSection]:
        return {**self.services, **self.units}

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Path prefixes each service/unit answers: a unit serves one per artifact."""
        out: dict[str, tuple[str, ...]] = {}
        for name, svc in self.services.items():
            out[name] = (svc.route or f"/{name}",)
        for name, unit in self.units.items():
            out[name] = tuple(f"/{artifact}" for artifact in unit.artifacts)
        return out

    def health_of(self, name: str) -> str:
        """The readiness path of a service/unit: its own, or the balancer's health_check uri."""
        return self.deployables()[name].health or self.balancer.health_check.uri

    def strategy_for(self, name: str) -> DeployStrategy:
        return self.deployables()[name].strategy or self.deploy.strategy

    def runtime_of(self, name: str) -> RuntimeSection:
        """The runtime settings of a service/unit: the project's, with its own overrides."""
        return self.runtime.merged(self.deployables()[name].runtime)


def check_app_ref(ref: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", ref):
        raise ValueError(f"app {ref!r}: expected \"module.path:attribute\"")


def split_host_port(value: str) -> tuple[str, int]:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); "8080" -> ("127.0.0.1", 8080); "[::1]:80"."""
    return parse_endpoint(value, default_host="127.0.0.1")
