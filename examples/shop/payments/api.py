"""The example 'payments' integration: a plain ASGI app."""

from shopkit import make_app

app = make_app("payments", health=True)
