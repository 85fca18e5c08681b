"""The example 'invoices' integration: a plain ASGI app."""

from shopkit import make_app

app = make_app("invoices", health=True)
