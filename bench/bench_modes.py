"""The benchmark's modes: what traffic each one sends and how the proxies run for it.

Every throughput mode runs the same alternating rounds of both proxies (bench/run.py); a mode
only fixes the request (method, body, path), the worker count of both proxies and whether they
are pinned. `idle` is the memory figure and has no wrk traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench_conf import LARGE_PATH, LARGE_SIZE
from bench_wrk import post_lua

POST_BODY_SIZE = 16 * 1024


@dataclass(frozen=True)
class Mode:
    name: str
    title: str
    path: str = "/"
    lua_prelude: str = ""  # wrk Lua run before the report hook: sets method, body, headers
    many_workers: bool = False  # worker_processes N (--workers) for both proxies, unpinned
    floor: bool = False  # also run bench/floor_proxy.py (it forwards bytes only, GET / is enough)

    def workers(self, many: int) -> int:
        """worker_processes of both proxies in this mode, `many` being --workers."""
        return many if self.many_workers else 1

    def heading(self, many: int) -> str:
        return self.title.replace(" N ", f" {self.workers(many)} ")


GET = Mode("get", "GET /, a 28-byte answer, one worker each, proxy pinned", floor=True)
POST16K = Mode("post16k", f"POST / with a {POST_BODY_SIZE // 1024} KiB body, one worker each, "
               "proxy pinned", lua_prelude=post_lua(POST_BODY_SIZE))
GET1M = Mode("get1m", f"GET {LARGE_PATH}, a {LARGE_SIZE // 2**20} MiB answer, one worker each, "
             "proxy pinned", path=LARGE_PATH)
WORKERS = Mode("workers", "GET /, worker_processes N in both, proxies unpinned",
               many_workers=True)
THROUGHPUT_MODES = {m.name: m for m in (GET, POST16K, GET1M, WORKERS)}
IDLE = "idle"
ALIASES = {"workers2": WORKERS.name}
ALL_MODES = (*THROUGHPUT_MODES, IDLE)
DEFAULT_MODES = (GET.name, IDLE)


def parse_modes(text: str) -> list[str]:
    """`--mode a,b` as mode names in the order of ALL_MODES; unknown names raise ValueError."""
    wanted = {ALIASES.get(name.strip(), name.strip()) for name in text.split(",") if name.strip()}
    unknown = wanted - set(ALL_MODES)
    if unknown:
        raise ValueError(f"unknown mode(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(ALL_MODES)}")
    return [m for m in ALL_MODES if m in wanted]
