"""The seed's three strategies load as written, with the values their text describes."""

from pathlib import Path

import pytest

from hotdeploy.config.loader import load_config

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seed_configs"


def _load(name: str):
    return load_config(str(SEEDS / name), prefix="/tmp/hotdeploy-test-prefix")


@pytest.mark.parametrize(
    "name", ["active-active.conf", "active-active-health.conf", "active-passive.conf"]
)
def test_seed_config_loads_with_two_servers_and_passive_checks(name):
    cfg = _load(name)
    backend = cfg.http.upstreams["backend"]
    assert [s.address for s in backend.servers] == ["127.0.0.1:80", "127.0.0.2:80"]
    assert all(s.max_fails == 3 and s.fail_timeout == 30.0 for s in backend.servers)
    assert backend.method == "round_robin"
    (location,) = cfg.http.servers[0].locations
    assert location.proxy_pass.upstream == "backend"
    assert location.proxy_pass.uri is None


def test_active_passive_marks_the_second_server_backup():
    servers = _load("active-passive.conf").http.upstreams["backend"].servers
    assert [s.backup for s in servers] == [False, True]
    assert _load("active-passive.conf").http.upstreams["backend"].backup_mode == "balanced"


def test_health_seed_checks_health_every_five_seconds():
    cfg = _load("active-active-health.conf")
    (check,) = cfg.http.servers[0].locations[0].health_checks
    assert (check.upstream, check.uri, check.interval) == ("backend", "/health", 5.0)
    assert (check.fails, check.passes, check.mandatory) == (1, 1, False)
    assert (check.connect_timeout, check.read_timeout) == (60.0, 60.0)
    assert check.host_header.raw == "$proxy_host"


def test_seed_without_listen_gets_nginx_default_port(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    (listen,) = _load("active-active.conf").http.servers[0].listens
    assert (listen.host, listen.port) == ("0.0.0.0", 8000)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    (listen,) = _load("active-active.conf").http.servers[0].listens
    assert (listen.host, listen.port) == ("0.0.0.0", 80)


def test_main_defaults_resolve_against_the_prefix():
    cfg = _load("active-active.conf")
    assert cfg.prefix == "/tmp/hotdeploy-test-prefix/"
    assert cfg.pid_path == "/tmp/hotdeploy-test-prefix/logs/nginx.pid"
    assert [e.path for e in cfg.error_logs] == ["/tmp/hotdeploy-test-prefix/logs/error.log"]
    (log,) = cfg.http.servers[0].locations[0].settings.access_logs
    assert log.path == "/tmp/hotdeploy-test-prefix/logs/access.log"
    assert log.format.name == "combined"
    assert cfg.daemon is True
