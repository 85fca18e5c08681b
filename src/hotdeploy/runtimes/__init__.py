"""Runtimes start and stop service instances. `local` (processes on this machine) is built in."""
