"""The docker runtime: an image per release, a container per instance (see runtime.py)."""
