"""The seed's three configurations, ports substituted, serve and balance as their text says."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

SEEDS = Path(__file__).parent.parent / "data" / "seed_configs"


def substitute(text: str, up1: str, up2: str) -> str:
    # The seeds listen on 80 (or nginx's default) and name servers without ports (port 80).
    text = text.replace("server 127.0.0.1 ", f"server {up1} ")
    text = text.replace("server 127.0.0.2 ", f"server {up2} ")
    text = re.sub(r"listen 80;", "listen LISTEN;", text)
    if "listen LISTEN;" not in text:
        text = text.replace("location / {", "listen LISTEN;\n      location / {", 1)
    return text.replace("health_check uri=/health interval=5s;", "")


@pytest.mark.parametrize("name", ["active-active.conf", "active-active-health.conf"])
async def test_seed_round_robin_alternates(name, backends, balancer):
    (one,) = await backends("one", host="127.0.0.1")
    (two,) = await backends("two", host="127.0.0.2")
    lb = await balancer(substitute((SEEDS / name).read_text(), one.address, two.address))
    async with httpx.AsyncClient() as client:
        bodies = [(await client.get(lb.url)).text for _ in range(6)]
    assert bodies in (["one", "two"] * 3, ["two", "one"] * 3)


async def test_seed_active_passive_backup_takes_over_only_when_primary_fails(
        backends, balancer):
    (primary,) = await backends("primary", host="127.0.0.1")
    (backup,) = await backends("backup", host="127.0.0.2")
    text = substitute((SEEDS / "active-passive.conf").read_text(), primary.address,
                      backup.address)
    lb = await balancer(text)
    async with httpx.AsyncClient() as client:
        assert {(await client.get(lb.url)).text for _ in range(4)} == {"primary"}
        await primary.stop()
        # Refused connections: each request is retried on the backup, clients see no error.
        for _ in range(4):
            r = await client.get(lb.url)
            assert (r.status_code, r.text) == (200, "backup")
    assert "temporarily disabled" in lb.error_log()  # after max_fails=3
