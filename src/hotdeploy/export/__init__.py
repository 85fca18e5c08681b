"""Exports: the project rendered for platforms and tools that run it without hotdeploy's
control process (Kubernetes, systemd on VMs, Docker Compose, nginx), one module per format.

Each export is a pure function of the project and its current releases (read once by the
caller from the state file and the release store): same input, same bytes; nothing here opens a
socket or an event loop.
"""
