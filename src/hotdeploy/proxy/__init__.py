"""The HTTP data path: client connections, proxying to upstreams, retries, logs."""
