"""The cyclic GC sees each reference of a client connection once.

Regression: `ClientConnection` re-annotated `transport` and `batch`, which its base
`GeneratedResponses` already declares, and the mypyc build then visited both fields twice in
its traverse. The GC subtracted those references twice, so the connections' shared WriteBatch
(referenced otherwise only by the tracker, which `gc.freeze()` keeps out of collections) was
freed while in use once the last connection that held it was garbage: the next connection
failed with "attribute 'loop' of 'WriteBatch' undefined" (seen with TLS, whose first client
arrives after the plain-HTTP probe's connection is gone). `gc.get_referents` runs the same
traverse, so it counts the visits.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from hotdeploy.config.loader import load_config
from hotdeploy.proxy.client import ClientConnection
from hotdeploy.proxy.runtime import RuntimeHolder, build_runtime
from hotdeploy.proxy.server import ConnectionTracker


def test_each_reference_of_a_client_connection_is_visited_once(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp { access_log off; server { listen 127.0.0.1:1; "
                    "return 200; } }\n")
    config = load_config(str(conf), str(tmp_path))
    holder = RuntimeHolder(build_runtime(config, None, 0.0))
    loop = asyncio.new_event_loop()
    try:
        tracker = ConnectionTracker()
        conn = ClientConnection(holder, ("127.0.0.1", 1), tracker, loop)
        referents = gc.get_referents(conn)
        assert conn.batch is tracker.batch
        assert sum(1 for ref in referents if ref is conn.batch) == 1
        assert sum(1 for ref in referents if ref is tracker) == 1
        assert sum(1 for ref in referents if ref is holder) == 1
    finally:
        loop.close()
