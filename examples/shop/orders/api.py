"""The example 'orders' integration: a plain ASGI app."""

from shopkit import make_app

app = make_app("orders", health=True)
