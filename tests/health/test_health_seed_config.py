"""The seed's active-active-health.conf, as written, gives the checks it describes."""

from hotdeploy.config.loader import load_config
from hotdeploy.upstream.checker import collect_checks, probe_request

SEED = """
events {}

http {
   upstream backend {
      server 127.0.0.1 max_fails=3 fail_timeout=30s;
      server 127.0.0.2 max_fails=3 fail_timeout=30s;
   }

   server {
      listen 80;
      location / {
            proxy_pass http://backend;
            health_check uri=/health interval=5s;
      }
   }
}
"""


def test_seed_health_config_checks_health_every_five_seconds(tmp_path):
    path = tmp_path / "nginx.conf"
    path.write_text(SEED)
    checks = collect_checks(load_config(str(path), str(tmp_path) + "/"))
    assert len(checks) == 1
    check = checks[0]
    assert (check.upstream, check.uri, check.interval) == ("backend", "/health", 5.0)
    assert (check.fails, check.passes, check.jitter, check.mandatory) == (1, 1, 0.0, False)
    assert check.connect_timeout == 60.0 and check.read_timeout == 60.0  # proxy_*_timeout
    assert probe_request(check).startswith(
        b"GET /health HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n")
