"""What makes a Balancer a worker of `worker_processes N` rather than the single process."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from hotdeploy.lb.zonesync import ZoneSync


@dataclass
class WorkerRole:
    index: int  # 0..N-1; worker 0 runs the active health checks
    control: socket.socket  # lb/control.py: reloads from the master
    zone: ZoneSync
