"""Run wrk (keep-alive, `--latency`) and read its figures exactly.

A small Lua `done()` hook prints the summary as one JSON line, so nothing depends on wrk's
human-readable units ("1.23ms", "12.34k").
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_procs import BenchError, Children, pinned

JSON_MARK = "BENCH_JSON "

# Latency values in wrk's Lua API are microseconds.
REPORT_LUA = f"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{JSON_MARK}{{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors (connect/read/write/timeout) plus non-2xx/3xx answers
    bytes: int = 0  # response bytes read, headers included

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


def post_lua(body_size: int) -> str:
    """wrk Lua that makes every request a POST with a `body_size`-byte body (wrk sends it with
    Content-Length; the body is built once, in wrk's setup, not per request)."""
    return (f'wrk.method = "POST"\n'
            f'wrk.body = string.rep("x", {body_size})\n'
            f'wrk.headers["Content-Type"] = "application/octet-stream"\n')


def write_script(directory: Path, name: str = "report", prelude: str = "") -> Path:
    """DIRECTORY/NAME.lua: `prelude` (what each request is) followed by the JSON report hook."""
    script = directory / f"{name}.lua"
    script.write_text(prelude + REPORT_LUA)
    return script


def parse_output(stdout: str) -> WrkResult:
    """The JSON line written by REPORT_LUA, as a WrkResult."""
    for line in stdout.splitlines():
        if line.startswith(JSON_MARK):
            raw = json.loads(line[len(JSON_MARK):])
            seconds = raw["duration_us"] / 1e6
            errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=raw["requests"], seconds=seconds,
                rps=raw["requests"] / seconds if seconds else 0.0,
                p50_ms=raw["p50_us"] / 1000, p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000, max_ms=raw["max_us"] / 1000, errors=errors,
                bytes=raw["bytes"])
    raise BenchError(f"wrk printed no summary:\n{stdout[-2000:]}")


def run_wrk(children: Children, script: Path, port: int, connections: int, seconds: int,
            core: int | None, threads: int = 1, url: str | None = None,
            close: bool = False) -> WrkResult:
    """One wrk run against 127.0.0.1:PORT (or `url`); wrk keeps connections alive by
    default, `close` asks for a new connection per request."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
           "--latency", "--timeout", "5s", "-s", str(script)]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd = pinned([*cmd, url or f"http://127.0.0.1:{port}/"], core)
    child = children.start(f"wrk-{port}-{connections}", cmd)
    try:
        child.proc.wait(seconds + 30)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish:\n{child.tail()}") from exc
    finally:
        children.stop(child)
    output = child.log.read_text(errors="replace")
    child.log.unlink(missing_ok=True)
    return parse_output(output)
