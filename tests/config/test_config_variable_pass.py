"""proxy_pass with variables and the resolver settings it takes from its level."""

from __future__ import annotations

from hotdeploy.config.model import ResolverConfig, walk_locations

CONF = """
events {}
http {
  resolver 127.0.0.1:5353 valid=10s ipv6=off;
  server {
    listen 127.0.0.1:8080;
    location /a/ { proxy_pass http://$host:9000$request_uri; }
    location /b/ { resolver_timeout 2s; proxy_pass https://$arg_h; }
    location /c/ { proxy_pass http://127.0.0.1:9000; }
  }
  server {
    listen 127.0.0.1:8081;
    resolver [::1] 127.0.0.2;
    location / { proxy_pass http://$arg_h; }
  }
}
"""


def _passes(config):
    assert config.http is not None
    return [{loc.path: loc.proxy_pass for loc in walk_locations(s.locations)}
            for s in config.http.servers]


def test_variables_are_accepted_and_take_the_resolver(conf):
    first, second = _passes(conf.load(CONF))
    a, b, c = first["/a/"], first["/b/"], first["/c/"]
    assert a.template is not None and a.template.raw == "http://$host:9000$request_uri"
    assert a.resolver == ResolverConfig((("127.0.0.1", 5353),), 10.0, True, False, 30.0)
    assert b.resolver is not None and b.resolver.timeout == 2.0 and b.tls is not None
    assert c.template is None and c.resolver is None  # no variables: as before
    assert second["/"].resolver == ResolverConfig((("::1", 53), ("127.0.0.2", 53)))


def test_no_resolver_leaves_none(conf):
    text = "events {}\nhttp { server { listen 127.0.0.1:8080;\n" \
           " location / { proxy_pass http://$arg_h; } } }\n"
    (passes,) = _passes(conf.load(text))
    assert passes["/"].resolver is None
    accepted, _ = conf.nginx_t(text)
    assert accepted
