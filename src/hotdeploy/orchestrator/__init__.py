"""The orchestrator: releases, instances and their states, the planner and the executor that
carries plans out through a Runtime and a DataPlane, the supervisor, and the verbs."""
