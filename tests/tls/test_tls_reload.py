"""Certificate reload on SIGHUP: new connections get the new certificate, connections already
open keep working, and a keep-alive HTTPS load sees no failed request."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

from certs import CertificateAuthority, fingerprint_of
from tlstools import client_context, conf, free_port, https_request, start_lb, wait_until


class HttpsLoad:
    """Keep-alive HTTPS clients (plus one opening a new connection per request), bounded in
    requests and time; a failure is an exception or a status other than 200."""

    def __init__(self, port: int, workers: int = 3, max_seconds: float = 30.0) -> None:
        self.port = port
        self.ok = 0
        self.failed: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.threads = [threading.Thread(target=self._work, args=(i == 0,), daemon=True)
                        for i in range(workers)]

    def __enter__(self) -> HttpsLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def _work(self, new_connections: bool) -> None:
        ctx = client_context()
        conn: http.client.HTTPSConnection | None = None
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                                       context=ctx)
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                with self.lock:
                    if response.status == 200:
                        self.ok += 1
                    else:
                        self.failed.append(f"status {response.status}")
                if new_connections or response.getheader("Connection") == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.002)
        if conn is not None:
            conn.close()

    def count(self) -> int:
        with self.lock:
            return self.ok + len(self.failed)


def test_sighup_reloads_certificates_with_zero_failed_requests(tmp_path: Path,
                                                              ca: CertificateAuthority) -> None:
    old = ca.issue("reload-old", ["reload.test"])
    new = ca.issue("reload-new", ["reload.test"], "ec")
    cert, key = tmp_path / "site.crt", tmp_path / "site.key"
    cert.write_bytes(old.cert.read_bytes())
    key.write_bytes(old.key.read_bytes())
    port = free_port()
    proxy = start_lb(tmp_path / "lb", conf(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        keepalive_requests 100000;
        location / {{ return 200 "ok"; }}
    }}"""), port)
    try:
        assert fingerprint_of(https_request(port).cert_der or b"") == old.fingerprint
        # A connection opened before the reload, used again after it.
        early = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                            context=client_context())
        early.request("GET", "/")
        early.getresponse().read()
        with HttpsLoad(port) as load:
            assert wait_until(lambda: load.count() >= 50)
            cert.write_bytes(new.cert.read_bytes())
            key.write_bytes(new.key.read_bytes())
            proxy.reload()
            assert wait_until(lambda: "reconfiguring done" in proxy.error_log())
            before = load.count()
            assert wait_until(lambda: load.count() >= before + 100)
        assert load.failed == [], load.failed[:5]
        assert load.ok >= 150
        assert fingerprint_of(https_request(port).cert_der or b"") == new.fingerprint
        early.request("GET", "/")
        response = early.getresponse()
        assert response.status == 200 and response.read() == b"ok"
        assert fingerprint_of(early.sock.getpeercert(binary_form=True)) == old.fingerprint
        early.close()
    finally:
        proxy.stop()


def test_reload_with_a_missing_certificate_keeps_the_old_one(tmp_path: Path,
                                                            ca: CertificateAuthority) -> None:
    site = ca.issue("keep", ["keep.test"])
    cert = tmp_path / "site.crt"
    cert.write_bytes(site.cert.read_bytes())
    port = free_port()
    proxy = start_lb(tmp_path / "lb", conf(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {site.key};
        location / {{ return 200 "ok"; }}
    }}"""), port)
    try:
        cert.unlink()
        proxy.reload()
        assert wait_until(lambda: "reconfiguration failed" in proxy.error_log())
        assert f'cannot load certificate "{cert}"' in proxy.error_log()
        reply = https_request(port)
        assert reply.status == 200
        assert fingerprint_of(reply.cert_der or b"") == site.fingerprint
    finally:
        proxy.stop()
