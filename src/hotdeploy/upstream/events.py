"""Structured state-change events of upstream servers (one log line each).

`upstream=backend server=127.0.0.1:8081 state=unavailable was=up reason="3 fails in 30s"`
"""

from __future__ import annotations

from dataclasses import dataclass

from hotdeploy.upstream.peer import Peer

# API state names (NGINX Plus) -> words for the log line.
_LOG_WORDS = {"unavail": "unavailable"}

NO_LIVE_UPSTREAMS = "no-live-upstreams"


@dataclass(frozen=True, slots=True)
class PeerEvent:
    upstream: str
    peer: Peer | None  # None for an upstream-wide event ("no live upstreams")
    state: str  # API state ("up", "unavail", ...), "removed", or NO_LIVE_UPSTREAMS
    was: str
    reason: str

    def line(self) -> str:
        parts = [f"upstream={self.upstream}"]
        if self.peer is not None:
            parts.append(f"server={self.peer.address}")
        parts.append(f"state={_LOG_WORDS.get(self.state, self.state)}")
        if self.was:
            parts.append(f"was={_LOG_WORDS.get(self.was, self.was)}")
        reason = self.reason.replace('"', "'")
        parts.append(f'reason="{reason}"')
        return " ".join(parts)

    def __str__(self) -> str:
        return self.line()
