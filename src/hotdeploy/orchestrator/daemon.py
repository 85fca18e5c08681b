"""`python -m hotdeploy.orchestrator.daemon PROJECT_FILE`: the control process itself.

Started by `hotdeploy up` in a session of its own with its output in
.hotdeploy/logs/control.log, so closing the terminal does not stop it and stopping it (even
with SIGKILL) stops neither the balancer nor the instances.
"""

from __future__ import annotations

import sys

from hotdeploy.orchestrator.server import run

if __name__ == "__main__":
    run(sys.argv[1])
