"""`listen` forms and defaults, and which servers a listening socket serves."""

import pytest

from hotdeploy.config.routing import Router


def _listens(conf, directives):
    cfg = conf.load("events {}\nhttp {\n server {\n" + directives + "\n }\n}\n")
    return cfg.http.servers[0].listens


@pytest.mark.parametrize(
    ("directive", "host", "port"),
    [
        ("listen 8080;", "0.0.0.0", 8080),
        ("listen *:8081;", "0.0.0.0", 8081),
        ("listen 127.0.0.1:8082;", "127.0.0.1", 8082),
        ("listen 127.0.0.1;", "127.0.0.1", 80),  # an address alone means port 80
        ("listen [::1]:8083;", "::1", 8083),
        ("listen [::]:8084;", "::", 8084),
    ],
)
def test_listen_forms(conf, directive, host, port):
    (listen,) = _listens(conf, directive)
    assert (listen.host, listen.port) == (host, port)


def test_listen_parameters(conf):
    (listen,) = _listens(conf, "listen [::]:8085 default_server backlog=64 ipv6only=off;")
    assert (listen.default_server, listen.backlog, listen.ipv6only) == (True, 64, False)
    (listen,) = _listens(conf, "listen 8086;")
    assert (listen.default_server, listen.backlog, listen.ipv6only) == (False, 511, True)


def test_listen_localhost_resolves_to_its_addresses(conf):
    listens = _listens(conf, "listen localhost:8087;")
    assert ("127.0.0.1", 8087) in [(x.host, x.port) for x in listens]
    assert all(x.port == 8087 for x in listens)


@pytest.mark.parametrize(("euid", "port"), [(0, 80), (1000, 8000)])
def test_server_without_listen_uses_nginx_default(conf, monkeypatch, euid, port):
    monkeypatch.setattr("os.geteuid", lambda: euid)
    (listen,) = _listens(conf, "server_name x;")
    assert (listen.host, listen.port, listen.default_server) == ("0.0.0.0", port, False)


def test_two_default_servers_on_different_ports_are_fine(conf):
    cfg = conf.load("""events {}
http { server { listen 8090 default_server; } server { listen 8091 default_server; } }""")
    assert [s.listens[0].port for s in cfg.http.servers] == [8090, 8091]


ADDRS = """events {}
http {
  server { listen 127.0.0.1:8100; server_name specific; return 200 "specific"; }
  server { listen 8100; server_name any; return 200 "wild-first"; }
  server { listen 8100 default_server; server_name other; return 200 "wild-default"; }
}"""


def test_socket_on_a_specific_address_serves_only_its_servers(conf):
    router = Router(conf.load(ADDRS).http)
    specific = router.servers_for(("127.0.0.1", 8100))
    assert [s.server_names for s in specific] == [("specific",)]
    # Even a Host naming a server of the wildcard socket stays on the specific address.
    assert router.find_server(("127.0.0.1", 8100), "any").return_.text.raw == "specific"
    # Other local addresses reach the wildcard servers, default_server first.
    assert router.find_server(("127.0.0.2", 8100), "nope").return_.text.raw == "wild-default"
    assert router.find_server(("127.0.0.2", 8100), "any").return_.text.raw == "wild-first"


def test_wildcard_socket_covers_specific_addresses_of_its_port(conf):
    router = Router(conf.load(ADDRS).http)
    assert [(x.host, x.port) for x in router.listen_sockets()] == [("0.0.0.0", 8100)]


def test_first_server_is_the_default_without_default_server(conf):
    router = Router(conf.load("""events {}
http { server { listen 8101; server_name a; return 200 "a"; }
       server { listen 8101; server_name b; return 200 "b"; } }""").http)
    assert router.find_server(("0.0.0.0", 8101), "zzz").return_.text.raw == "a"
    assert router.find_server(("0.0.0.0", 8101), "b").return_.text.raw == "b"


def test_hostless_request_takes_the_empty_name_but_errors_take_the_default(conf):
    router = Router(conf.load("""events {}
http { server { listen 8102; return 200 "unnamed"; }
       server { listen 8102 default_server; server_name d; return 200 "default"; } }""").http)
    # server_name "" is every unnamed server's default name (nginx), so it matches no Host.
    assert router.find_server(("0.0.0.0", 8102), None).return_.text.raw == "unnamed"
    assert router.find_server(("0.0.0.0", 8102), "other").return_.text.raw == "default"
    assert router.default_server(("0.0.0.0", 8102)).return_.text.raw == "default"
