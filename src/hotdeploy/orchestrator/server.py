"""The control process: a Controller behind a Unix socket, plus the supervisor and the
balancer watch.

Protocol: one JSON request per connection (`{"cmd": "deploy", "args": {...}}` and a newline);
the answer is zero or more `{"event": "..."}` lines (live progress) and one final line
`{"ok": true, "result": {...}}` or `{"ok": false, "error": "...", "kind": "DeployError"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

from pydantic import ValidationError

from hotdeploy.errors import ControlError, HotdeployError
from hotdeploy.orchestrator.commands import COMMANDS
from hotdeploy.orchestrator.controller import Controller


class ControlServer:
    def __init__(self, controller: Controller) -> None:
        self.ctl = controller
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def serve(self) -> None:
        paths = self.ctl.paths
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(paths.socket)
        server = await asyncio.start_unix_server(self._handle, path=str(paths.socket))
        self.ctl.log(f"control process {os.getpid()} listening on {paths.socket}")
        self._tasks.append(asyncio.create_task(self._boot_then_supervise()))
        async with server:
            await self.stopping.wait()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(paths.socket)

    async def _boot_then_supervise(self) -> None:
        await self.ctl.boot()
        if not self.ctl.ready:
            return
        self._tasks.append(asyncio.create_task(self.ctl.watch_dataplane()))
        if self.ctl.autoscaler().scalers:
            self._tasks.append(asyncio.create_task(self.ctl.autoscaler().run()))
        await self.ctl.supervisor().run()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(payload: dict[str, Any]) -> None:
            with contextlib.suppress(Exception):  # a client that went away does not stop a deploy
                writer.write(json.dumps(payload).encode() + b"\n")

        try:
            request = json.loads(await reader.readline())
            result = await self.dispatch(request, lambda m: send({"event": m}))
            send({"ok": True, "result": result})
        except HotdeployError as exc:
            send({"ok": False, "error": str(exc), "kind": type(exc).__name__})
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            send({"ok": False, "error": f"bad request: {exc}", "kind": "ControlError"})
        except Exception as exc:  # report it, and keep the control process up
            self.ctl.log(f"internal error: {exc!r}")
            send({"ok": False, "error": f"internal error: {exc!r}", "kind": "ControlError"})
        with contextlib.suppress(Exception):
            await writer.drain()
            writer.close()

    async def dispatch(self, request: dict[str, Any], emit: Any) -> Any:
        name = request.get("cmd")
        if name == "ping":
            return {"pid": os.getpid()}
        if name not in COMMANDS:
            raise ControlError(f"unknown command {name!r}")
        args_type, handler = COMMANDS[name]
        args = args_type.model_validate(request.get("args") or {})
        if name == "down":
            for task in self._tasks:
                task.cancel()
        result = await handler(self.ctl, args, emit)
        if name == "down":
            self.stopping.set()
        return result.model_dump(mode="json")


def run(project_file: str) -> None:
    """Entry point of the control process (see `hotdeploy.orchestrator.daemon`)."""
    import uvloop

    uvloop.run(ControlServer(Controller(project_file)).serve())
