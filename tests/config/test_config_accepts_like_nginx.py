"""Configurations nginx OSS accepts are accepted by hotdeploy too (and produce the model
their directives describe); checked against the real nginx when it is installed."""

import pytest

ACCEPTED = {
    "upstream-methods": """
        upstream h { hash $request_uri consistent; server 127.0.0.1:9001 weight=2; zone h 64k; }
        upstream r { random two least_conn; server 127.0.0.1:9002 max_conns=10; }
        upstream i { ip_hash; server 127.0.0.1:9003 down; server 127.0.0.1:9004; }
        upstream l { least_conn; server 127.0.0.1:9005 max_fails=0 fail_timeout=1m;
                     server 127.0.0.1:9006 backup; keepalive 8; keepalive_requests 50;
                     keepalive_time 10m; keepalive_timeout 30s; }
    """,
    "listen-and-names": """
        server { listen 127.0.0.1:8400 default_server backlog=128; listen [::1]:8400;
                 server_name example.com *.example.com www.example.* .dot.test
                             "~^(?<sub>[a-z]+)\\.re\\.test$" ""; }
        server { listen 8401; listen localhost:8402; server_name _; return 204; }
    """,
    "settings-everywhere": """
        log_format json_fmt escape=json '{"uri":"$uri","status":$status}';
        access_log logs/access.log json_fmt buffer=16k flush=2s;
        keepalive_timeout 30s 25s; keepalive_requests 100; keepalive_time 30m;
        keepalive_disable msie6 safari; client_max_body_size 10m; client_body_timeout 5s;
        client_header_timeout 5s; send_timeout 5s; large_client_header_buffers 8 16k;
        client_header_buffer_size 2k; client_body_buffer_size 32k;
        set_real_ip_from 10.0.0.0/8; set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;
        real_ip_recursive on; client_body_temp_path /tmp/hd-body 1 2; proxy_temp_path /tmp/hd-p;
        proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
        proxy_request_buffering off; proxy_intercept_errors on; proxy_buffer_size 14k;
        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        proxy_next_upstream_tries 3; proxy_next_upstream_timeout 10s;
        proxy_pass_request_headers on; proxy_pass_request_body on;
        proxy_hide_header X-Powered-By; proxy_pass_header Server;
        proxy_connect_timeout 2s; proxy_read_timeout 1m; proxy_send_timeout 1m;
        upstream app { server 127.0.0.1:9010; keepalive 16; }
        server {
            listen 8403;
            error_page 500 502 503 504 /50x.html;
            error_page 404 =200 /empty;
            location = /50x.html { return 200 "oops"; }
            location /app/ { proxy_pass http://app/; add_header X-Up $upstream_addr always;
                             allow 127.0.0.1; deny all; }
            location ~* \\.(png|jpg)$ { return 301 https://static.example.com$request_uri; }
            location @fallback { proxy_pass http://app; }
            location /go { return http://example.com/; }
        }
    """,
}


@pytest.mark.parametrize("body", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_hotdeploy_accepts(conf, body):
    cfg = conf.load("events {}\nhttp {\n" + body + "\n}\n")
    assert cfg.http is not None


@pytest.mark.usefixtures("real_nginx")
@pytest.mark.parametrize("body", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_real_nginx_accepts(conf, body):
    accepted, stderr = conf.nginx_t("events {}\nhttp {\n" + body + "\n}\n")
    assert accepted, stderr


def test_settings_everywhere_model(conf):
    cfg = conf.load("events {}\nhttp {\n" + ACCEPTED["settings-everywhere"] + "\n}\n")
    server = cfg.http.servers[0]
    s = server.settings
    assert (s.keepalive_timeout, s.keepalive_header_timeout) == (30.0, 25.0)
    assert s.keepalive_disable == ("msie6", "safari")
    assert (server.large_client_header_buffers, server.client_header_buffer_size) == (
        (8, 16384), 2048)
    assert s.access_logs[0].format.escape == "json"
    assert (s.access_logs[0].buffer, s.access_logs[0].flush) == (16384, 2.0)
    assert [str(n) for n in s.set_real_ip_from] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert (s.real_ip_header, s.real_ip_recursive) == ("X-Forwarded-For", True)
    p = s.proxy
    assert p.next_upstream == {"error", "timeout", "http_502", "http_503", "non_idempotent"}
    assert (p.next_upstream_tries, p.next_upstream_timeout) == (3, 10.0)
    assert (p.http_version, p.buffering, p.request_buffering, p.intercept_errors) == (
        "1.1", False, False, True)
    assert [n for n, _ in p.set_headers] == ["Host"]  # Connection "" removes the default
    assert "x-powered-by" in p.hide_headers and "server" not in p.hide_headers
    pages = s.error_pages
    assert sorted(pages) == [404, 500, 502, 503, 504]
    assert (pages[404].response_code, pages[404].uri.raw) == (200, "/empty")
    locs = {loc.path: loc for loc in server.locations}
    assert locs["/app/"].proxy_pass.uri == "/"
    assert locs["/go"].return_.code == 302
    assert locs["\\.(png|jpg)$"].regex.search("/A.PNG")


def test_proxy_next_upstream_off(conf):
    cfg = conf.load("events {}\nhttp { proxy_next_upstream off; server { listen 8404; } }\n")
    assert cfg.http.servers[0].settings.proxy.next_upstream == frozenset()
