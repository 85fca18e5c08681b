"""Exports: the project rendered for platforms that run it without hotdeploy's control
process (Kubernetes, systemd on VMs).

Each export is a pure function of the project and its current releases: the same input gives
the same bytes, so the output can be committed and diffed. Only `sources` reads files (the
state file and the release store); nothing here opens a socket or an event loop.
"""
