"""Test support shipped with the package: fakes of the parts the orchestrator drives (used only
by tests; the end-to-end tests use the real runtime and balancer)."""
