"""A tiny authoritative DNS server for tests: UDP on 127.0.0.1 (a free port), answering A
records from a dict, NOERROR without data for AAAA of a known name, NXDOMAIN for any other
name. It runs in a thread (so real nginx can use it as its resolver too), records every
query, and stops with `stop()` (the context manager does it)."""

from __future__ import annotations

import select
import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer:
    def __init__(self, names: dict[str, list[str]], ttl: int = 300) -> None:
        self.names = {name.lower().rstrip("."): addrs for name, addrs in names.items()}
        self.ttl = ttl
        self.queries: list[tuple[str, str]] = []  # (name, "A" / "AAAA")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def count(self, name: str, kind: str = "A") -> int:
        return sum(1 for q in self.queries if q == (name.lower(), kind))

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            data, peer = self.sock.recvfrom(4096)
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            self.sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        addrs = self.names.get(name)
        if addrs is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif kind == "A":
            response.answer.append(dns.rrset.from_text_list(
                question.name, self.ttl, "IN", "A", addrs))
        return response
