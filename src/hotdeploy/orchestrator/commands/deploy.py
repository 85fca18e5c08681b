"""`deploy SERVICE`: build a release from the service's source directory and roll it out."""

from __future__ import annotations

from dataclasses import replace

from hotdeploy.orchestrator import rollout
from hotdeploy.orchestrator.commands.base import (
    Emit,
    ServiceArgs,
    ServiceResult,
    require_service,
    service_result,
)
from hotdeploy.orchestrator.controller import Controller
from hotdeploy.orchestrator.releases import ReleaseSettings
from hotdeploy.project.model import DeployStrategy


class DeployArgs(ServiceArgs):
    version: str | None = None  # default: the release's digest
    app: str | None = None
    command: str | None = None
    env: dict[str, str] = {}
    strategy: DeployStrategy | None = None


def settings_for(base: ReleaseSettings, args: DeployArgs) -> ReleaseSettings:
    """The settings a deploy asks for: the current release's, with the given changes."""
    changed = replace(base, env={**base.env, **args.env})
    if args.app is not None:
        changed = replace(changed, app=args.app, command=None, artifacts=None)
    if args.command is not None:
        changed = replace(changed, command=args.command, app=None, artifacts=None)
    return changed


async def run(ctl: Controller, args: DeployArgs, emit: Emit) -> ServiceResult:
    require_service(ctl, args.service)
    async with ctl.locks[args.service]:
        ctx = ctl.context(args.service, emit)
        svc = ctx.service
        built = ctl.build(args.service, settings_for(svc.release.settings, args), args.version)
        release = built.release
        if built.note:
            ctx.emit(built.note)
        same_name = args.version is None or release.version == svc.release.version
        if release.digest == svc.release.digest and same_name:
            if not built.reused and release.version != svc.release.version:
                ctl.store.discard(args.service, release.version)  # a second name for it
            return service_result(ctl, args.service, f"{args.service} already runs this "
                                  f"content as {svc.release.version} (release "
                                  f"{release.short_digest}): nothing to deploy")
        ctx.emit(f"release {release.version}: {release.files} files, {release.size} bytes, "
                 f"digest {release.short_digest}" + (" (kept)" if built.reused else " (new)"))
        # An image build (docker runtime) that fails stops here, before any instance changes.
        await ctl.prepare(args.service, release, ctx.emit)
        strategy = args.strategy or ctl.project.strategy_for(args.service)
        await rollout.deploy(ctx, release, strategy, ctl.active_passive)
        ctl.store.record_live(release, strategy)
        await ctl.prune_releases(args.service, ctx.emit)
        return service_result(ctl, args.service)
