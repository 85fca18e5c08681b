"""NGINX Plus `state` files: round trip, missing file, atomic replacement, error positions."""

import os

import pytest

from hotdeploy.config.model import ServerSpec
from hotdeploy.errors import ConfigError
from hotdeploy.upstream.peer import Peer
from hotdeploy.upstream.statefile import format_server, load_state, parse_state, save_state


def peer(host, port, **live):
    p = Peer.from_spec(ServerSpec(name=f"{host}:{port}", host=host, port=port), 0)
    for k, v in live.items():
        setattr(p, k, v)
    return p


def test_missing_state_file_means_no_servers(tmp_path):
    assert load_state(str(tmp_path / "absent.state")) == []


def test_write_then_read_keeps_every_parameter(tmp_path):
    path = str(tmp_path / "sub" / "backend.state")
    peers = [
        peer("127.0.0.1", 8081),
        peer("127.0.0.1", 8082, weight=5, max_conns=10, max_fails=3, fail_timeout=30.0,
             slow_start=0.5, down=True),
        peer("::1", 8083, backup=True),
    ]
    save_state(path, peers)
    specs = load_state(path)
    assert [(s.host, s.port) for s in specs] == [("127.0.0.1", 8081), ("127.0.0.1", 8082),
                                                 ("::1", 8083)]
    second = specs[1]
    assert (second.weight, second.max_conns, second.max_fails) == (5, 10, 3)
    assert (second.fail_timeout, second.slow_start, second.down) == (30.0, 0.5, True)
    assert specs[0] == ServerSpec(name="127.0.0.1:8081", host="127.0.0.1", port=8081,
                                  source=specs[0].source)
    assert specs[2].backup and specs[2].address == "[::1]:8083"
    assert not [f for f in os.listdir(tmp_path / "sub") if f != "backend.state"]  # no temp left


def test_format_is_nginx_server_lines_with_non_default_parameters_only():
    assert format_server(peer("127.0.0.1", 8081)) == "server 127.0.0.1:8081;"
    line = format_server(peer("127.0.0.1", 8082, weight=2, fail_timeout=30.0, backup=True))
    assert line == "server 127.0.0.1:8082 weight=2 fail_timeout=30s backup;"


def test_save_replaces_the_previous_content(tmp_path):
    path = str(tmp_path / "b.state")
    save_state(path, [peer("127.0.0.1", 1), peer("127.0.0.1", 2)])
    save_state(path, [peer("127.0.0.1", 3)])
    assert [s.port for s in load_state(path)] == [3]


def test_reads_comments_blank_lines_and_default_port():
    specs = parse_state("# written by hand\n\nserver 10.0.0.1;  # web\nserver 10.0.0.2:81 down;\n")
    assert [(s.host, s.port, s.down) for s in specs] == [("10.0.0.1", 80, False),
                                                        ("10.0.0.2", 81, True)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server 10.0.0.1:80 weight=x;", 'invalid parameter "weight=x"'),
        ("server 10.0.0.1:80 weight=0;", 'invalid parameter "weight=0"'),
        ("server 10.0.0.1:80 colour=red;", 'invalid parameter "colour=red"'),
        ("server 10.0.0.1:80", 'expecting ";"'),
        ("upstream x;", 'unknown directive "upstream"'),
        ("server 10.0.0.1:99999;", "invalid port"),
    ],
)
def test_errors_name_the_file_and_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_state("server 10.0.0.9:80;\n" + text + "\n", "/etc/hd/b.state")
    assert message in str(info.value)
    assert str(info.value).endswith("in /etc/hd/b.state:2")
