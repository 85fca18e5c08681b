"""The control plane: one control process per project, reached through a Unix socket."""
