"""nginx directives every rendering of a topology shares (the built-in balancer's
configuration, the nginx engine's live and reload modes, `export nginx` and the Compose
balancer): the proxy settings of a route's location and the upstream's method. Pure."""

from __future__ import annotations

from hotdeploy.project.topology import UpstreamSpec

# Retried on another server, and (listed http_ codes) counted as failures (nginx:
# proxy_next_upstream). A refused connection or a 502/503 from an instance that is going away
# is retried: this keeps a SIGKILLed instance invisible to clients.
NEXT_UPSTREAM_CODES = (502, 503)


def next_upstream(spec: UpstreamSpec) -> str:
    codes = " ".join(f"http_{code}" for code in NEXT_UPSTREAM_CODES)
    extra = " non_idempotent" if spec.retry_non_idempotent else ""
    return f"proxy_next_upstream error timeout {codes}{extra};"


def proxy_lines(spec: UpstreamSpec, indent: str) -> list[str]:
    return [
        f"{indent}proxy_pass http://{spec.name};",
        # Upstream keep-alive needs HTTP/1.1 and an empty Connection header (nginx docs,
        # ngx_http_upstream_module "keepalive").
        f"{indent}proxy_http_version 1.1;",
        f'{indent}proxy_set_header Connection "";',
        f"{indent}proxy_set_header Host $host;",
        f"{indent}{next_upstream(spec)}",
    ]


def hash_method(spec: UpstreamSpec) -> tuple[str, bool]:
    """`hash_key` may end in `consistent` (nginx's `hash KEY consistent`)."""
    words = spec.hash_key.split()
    consistent = len(words) > 1 and words[-1] == "consistent"
    return (" ".join(words[:-1]) if consistent else spec.hash_key), consistent


def method_line(spec: UpstreamSpec) -> str | None:
    if spec.method == "hash":
        return f"hash {spec.hash_key};"
    if spec.method == "round_robin":
        return None
    return f"{spec.method};"
