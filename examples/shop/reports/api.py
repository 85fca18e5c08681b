"""The example 'reports' integration: a plain ASGI app."""

from shopkit import make_app

app = make_app("reports", health=False)
