"""hotdeploy: zero-downtime hot deployment behind an nginx-compatible load balancer."""

__version__ = "0.1.0"

# The version string the `lb` command reports, shaped like nginx's so scripts that parse
# `nginx -v` output keep working.
LB_VERSION = f"hotdeploy/{__version__}"
