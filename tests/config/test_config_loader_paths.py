"""How paths resolve (prefix, conf prefix, includes), `-g`, and the `-T` dump."""

import os

from hotdeploy.config.loader import dump_config, load_config, resolve_conf_path


def test_relative_conf_path_resolves_against_the_prefix(conf):
    conf.write("events {}\n", "conf/nginx.conf")
    cfg = load_config("conf/nginx.conf", prefix=str(conf.root))
    assert cfg.path == str(conf.root / "conf/nginx.conf")
    assert resolve_conf_path(None, str(conf.root)) == str(conf.root / "conf/nginx.conf")


def test_include_resolves_against_the_main_file_directory_and_globs_sorted(conf):
    conf.write("server { listen 8201; }\n", "conf/sites/b.conf")
    conf.write("server { listen 8200; }\n", "conf/sites/a.conf")
    conf.write("upstream u { server 127.0.0.1:9; }\n", "conf/upstreams.conf")
    conf.write("events {}\nhttp {\n include upstreams.conf;\n include sites/*.conf;\n"
               " include sites/none-*.conf;\n}\n", "conf/nginx.conf")
    cfg = load_config(str(conf.root / "conf/nginx.conf"), prefix=str(conf.root / "elsewhere"))
    assert [s.listens[0].port for s in cfg.http.servers] == [8200, 8201]
    assert "u" in cfg.http.upstreams
    assert cfg.files == tuple(str(conf.root / p) for p in (
        "conf/nginx.conf", "conf/upstreams.conf", "conf/sites/a.conf", "conf/sites/b.conf"))


def test_prefix_paths_for_pid_logs_and_state(conf):
    conf.write("server 127.0.0.1:7;\n", "run/u.state")
    cfg = conf.load("""pid run/hd.pid;
error_log logs/err.log warn;
error_log stderr;
events {}
http {
  access_log logs/acc.log combined buffer=64k flush=5s;
  upstream u { state run/u.state; }
  server { listen 8202; location / { proxy_pass http://u; } }
}""", name="conf/nginx.conf")
    root = str(conf.root)
    assert cfg.pid_path == os.path.join(root, "run/hd.pid")
    assert [(e.path, e.level) for e in cfg.error_logs] == [
        (os.path.join(root, "logs/err.log"), "warn"), ("stderr", "error")]
    (log,) = cfg.http.servers[0].locations[0].settings.access_logs
    assert (log.path, log.buffer, log.flush) == (os.path.join(root, "logs/acc.log"), 65536, 5.0)
    assert cfg.http.upstreams["u"].state_file == os.path.join(root, "run/u.state")


def test_globals_are_main_context_directives(conf):
    cfg = conf.load("events { worker_connections 77; }\n",
                    globals_="daemon off; pid /tmp/hd-test.pid; worker_processes 3;")
    assert (cfg.daemon, cfg.pid_path, cfg.worker_processes) == (False, "/tmp/hd-test.pid", 3)
    assert cfg.worker_connections == 77
    assert cfg.http is None


def test_dump_lists_every_file_with_its_text(conf):
    conf.write("server { listen 8203; }\n", "inc.conf")
    main_text = "events {}\nhttp { include inc.conf; }\n"
    cfg = conf.load(main_text)
    assert dump_config(cfg) == (
        f"# configuration file {conf.root / 'nginx.conf'}:\n{main_text}\n"
        f"# configuration file {conf.root / 'inc.conf'}:\nserver {{ listen 8203; }}\n\n"
    )


def test_temp_path_directives_are_accepted(conf):
    cfg = conf.load("events {}\nhttp { client_body_temp_path /tmp/x 1 2; proxy_temp_path t; "
                    "server { listen 8204; location / { proxy_temp_path t2; } } }\n")
    assert cfg.http.servers[0].locations[0].path == "/"


def test_quoted_and_escaped_arguments(conf):
    cfg = conf.load('events {}\nhttp { server { listen 8205;\n'
                    '  location / { return 200 "a \\"quoted\\" \'x\' \\\\ b"; } } }\n')
    assert cfg.http.servers[0].locations[0].return_.text.raw == 'a "quoted" \'x\' \\ b'
