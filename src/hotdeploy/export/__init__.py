"""Exports: a project rendered for another tool to run (one module per format)."""
