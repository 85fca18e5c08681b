import pytest

from hotdeploy.config.model import Source, Var
from hotdeploy.config.variables import (
    KNOWN_VARIABLES,
    VARIABLE_PREFIXES,
    compile_template,
    is_known_variable,
)
from hotdeploy.errors import ConfigError

SRC = Source("/etc/x.conf", 7)


class Ctx:
    def __init__(self, values):
        self.values = values

    def variable(self, name):
        return self.values.get(name, "")


def test_template_splits_literals_and_variables_in_both_spellings():
    t = compile_template("$host:${server_port}x/$http_X_Real_IP", SRC)
    assert t.parts == (Var("host"), ":", Var("server_port"), "x/", Var("http_x_real_ip"))
    ctx = Ctx({"host": "a.example", "server_port": "80", "http_x_real_ip": "1.2.3.4"})
    assert t.render(ctx) == "a.example:80x/1.2.3.4"
    assert not t.is_constant


def test_constant_template_renders_itself():
    t = compile_template("close", SRC)
    assert t.is_constant and t.render(Ctx({})) == "close"


def test_unknown_variable_is_an_error_with_nginx_text_and_location():
    with pytest.raises(ConfigError) as exc:
        compile_template("x $foo_bar", SRC)
    assert str(exc.value) == 'unknown "foo_bar" variable in /etc/x.conf:7'


@pytest.mark.parametrize(
    ("raw", "message"),
    [("a $", "invalid variable name"), ("${}", "invalid variable name"),
     ("${host", 'the closing bracket in "host" variable is missing'),
     ("$0", 'unknown "0" variable')],  # $1..$9 are regex captures, $0 is not (nginx)
)
def test_malformed_variables_are_rejected(raw, message):
    with pytest.raises(ConfigError) as exc:
        compile_template(raw, SRC)
    assert exc.value.message == message


def test_prefix_families_need_a_suffix():
    for prefix in VARIABLE_PREFIXES:
        assert is_known_variable(prefix + "x_y")
        assert not is_known_variable(prefix)


def test_every_variable_of_the_brief_is_known():
    for name in ("remote_addr", "proxy_add_x_forwarded_for", "upstream_response_time",
                 "time_iso8601", "request_id", "realip_remote_addr", "server_name"):
        assert name in KNOWN_VARIABLES
    assert not is_known_variable("limit_rate")  # nginx knows it; hotdeploy does not
