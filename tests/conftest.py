"""Shared fixtures: upstream group builders (servers a, b, c... on 127.0.0.1:8001, 8002...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hotdeploy.config.model import ServerSpec, UpstreamConfig
from hotdeploy.upstream.events import PeerEvent
from hotdeploy.upstream.group import PeerGroup


def spec(index: int, **params: Any) -> ServerSpec:
    port = 8001 + index
    return ServerSpec(name=f"127.0.0.1:{port}", host="127.0.0.1", port=port, **params)


def upstream(*servers: dict[str, Any], **options: Any) -> UpstreamConfig:
    return UpstreamConfig(
        name="backend", servers=tuple(spec(i, **s) for i, s in enumerate(servers)), **options
    )


@pytest.fixture
def events() -> list[PeerEvent]:
    return []


@pytest.fixture
def make_group(events: list[PeerEvent]) -> Callable[..., PeerGroup]:
    """make_group({"weight": 5}, {}, {"backup": True}, method="least_conn")"""

    def build(*servers: dict[str, Any], mandatory: bool = False, **options: Any) -> PeerGroup:
        group = PeerGroup(upstream(*servers, **options), on_event=events.append,
                          mandatory=mandatory)
        return group

    return build


@pytest.fixture
def names() -> Callable[[PeerGroup], dict[int, str]]:
    """Peer id -> letter (a, b, c...), for readable sequences."""

    def mapping(group: PeerGroup) -> dict[int, str]:
        return {p.id: "abcdefghij"[p.spec.port - 8001] for p in group.peers}

    return mapping


def letter(peer: Any) -> str:
    return "abcdefghij"[peer.spec.port - 8001] if peer is not None else "-"


@pytest.fixture
def seq() -> Callable[..., str]:
    """seq(group, n, now=0.0, client_ip=..., hash_key=...): letters of n independent requests,
    each released successfully at once ("-" when nothing was selected)."""
    from hotdeploy.upstream.attempt import Attempt

    def run(group: PeerGroup, n: int, now: float = 0.0, **attempt: Any) -> str:
        out = []
        for _ in range(n):
            peer = group.select(Attempt(**attempt), now)
            out.append(letter(peer))
            if peer is not None:
                group.release(peer, False, now)
        return "".join(out)

    return run


def pytest_sessionstart(session: pytest.Session) -> None:
    # A compiled request path built before its sources were last edited would test old code.
    from hotdeploy.proxy.compiled import stale_modules

    stale = stale_modules()
    if stale:
        pytest.exit(f"compiled modules older than their sources: {', '.join(stale)}; "
                    "rebuild with `pip install -e .` (or delete src/hotdeploy/proxy/*.so and "
                    "src/*__mypyc*.so to run interpreted)", returncode=4)
