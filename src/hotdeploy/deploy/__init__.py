"""Hot deployment: a pure planner (steps), pure verdicts (canary, restart back-off), and the
executor that carries steps out through a runtime and the balancer's API."""
