"""The docker runtime: an image per release, a container per instance (see runtime.py)."""

from hotdeploy.runtimes.docker.runtime import DockerRuntime

__all__ = ["DockerRuntime"]
