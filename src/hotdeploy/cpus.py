"""CPU sets for `worker_processes auto` and `worker_cpu_affinity` (nginx's rules). Pure apart
from reading the process's own affinity.

`worker_cpu_affinity 0001 0010;` gives each worker a bitmask (rightmost digit = CPU 0); a worker
beyond the last mask takes the last one, as nginx does. `worker_cpu_affinity auto [MASK];` binds
worker n to the n-th usable CPU (cycling), limited to MASK when given.
"""

from __future__ import annotations

import os

AUTO = "auto"
Affinity = tuple[frozenset[int], ...] | str


def usable_cores() -> frozenset[int]:
    """The CPUs this process may run on (a cgroup/taskset limit counts, as in nginx)."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return frozenset(range(os.cpu_count() or 1))


def parse_mask(text: str) -> frozenset[int]:
    if not text or set(text) - {"0", "1"}:
        raise ValueError(f'invalid character "{text}" in "worker_cpu_affinity"')
    cpus = frozenset(i for i, bit in enumerate(reversed(text)) if bit == "1")
    if not cpus:
        raise ValueError(f'invalid "worker_cpu_affinity" mask "{text}": no CPU set')
    return cpus


def parse_affinity(args: list[str]) -> Affinity:
    """The directive's arguments: masks, or `auto` with an optional limiting mask. `auto MASK`
    is kept as the string "auto:MASK" so the model stays hashable and plain."""
    if args[0] == AUTO:
        if len(args) > 2:
            raise ValueError('invalid number of arguments in "worker_cpu_affinity" directive')
        if len(args) == 2:
            parse_mask(args[1])
            return f"{AUTO}:{args[1]}"
        return AUTO
    return tuple(parse_mask(arg) for arg in args)


def worker_cpus(affinity: Affinity, worker: int, usable: frozenset[int]) -> frozenset[int] | None:
    """The CPUs worker number `worker` is bound to; None = not bound."""
    if not affinity:
        return None
    if isinstance(affinity, str):
        limit = parse_mask(affinity.split(":", 1)[1]) if ":" in affinity else None
        cpus = sorted(usable & limit if limit is not None else usable)
        return frozenset({cpus[worker % len(cpus)]}) if cpus else None
    return affinity[min(worker, len(affinity) - 1)]
