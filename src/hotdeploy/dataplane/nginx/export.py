"""`hotdeploy export nginx`: the project as a static nginx.conf for an open-source nginx. Pure:
the same project gives the same bytes (no paths, ports or times from the machine).

Plain OSS directives only. What only NGINX Plus has (`health_check`, `slow_start`, the `api`
and upstream `state` files) becomes a comment that says what to use instead. Servers are the
instances hotdeploy starts at run time, so each upstream gets a `down` placeholder (the file
passes `nginx -t`) and a comment showing the line to write per instance.
"""

from __future__ import annotations

from hotdeploy.config.addresses import key_text
from hotdeploy.dataplane.directives import method_line, proxy_lines
from hotdeploy.project.model import Project
from hotdeploy.project.topology import Topology, UpstreamSpec, topology_of
from hotdeploy.units import format_time


def export_nginx(project: Project, source: str = "hotdeploy.toml") -> str:
    topology = topology_of(project)
    instances = {owner: dep.instances for owner, dep in project.deployables().items()}
    out = [f"# nginx.conf exported by `hotdeploy export nginx` from {source}.",
           "# Open-source nginx directives only; NGINX Plus features are comments.",
           "worker_processes auto;", "pid logs/nginx.pid;", "error_log logs/error.log warn;", "",
           "events {", "    worker_connections 4096;", "}", "", "http {",
           "    access_log off;"]
    for spec in topology.upstreams:
        out += _upstream(spec, instances[spec.owner])
    out += _server(topology)
    out += ["", "    # NGINX Plus: `api write=on;` on a loopback server changes servers live.",
            "    # Open-source nginx has no such API: edit the server lines and `nginx -s reload`,",
            "    # or run hotdeploy with [balancer] engine = \"nginx\" (its Lua balancer).",
            "}", ""]
    return "\n".join(out)


def _upstream(spec: UpstreamSpec, instances: int) -> list[str]:
    params = f"max_fails={spec.max_fails} fail_timeout={format_time(spec.fail_timeout)}"
    lines = ["", f"    upstream {spec.name} {{",
             # A zone shares passive-health state between workers (OSS since 1.9.0).
             f"        zone {spec.name} 64k;"]
    method = method_line(spec)
    if method:
        lines.append(f"        {method}")
    lines += [f"        # One line per instance of {spec.owner} ({instances} in the project):",
              f"        #   server HOST:PORT {params};"]
    if spec.slow_start:
        lines.append(f"        # NGINX Plus: slow_start={format_time(spec.slow_start)} on each "
                     "server; open-source nginx has none (add servers with a low weight first).")
    lines += ["        # NGINX Plus: `state FILE;` keeps API-added servers across reloads.",
              "        server 127.0.0.1:9 down;  # placeholder so that the file passes nginx -t"]
    if spec.keepalive:
        lines.append(f"        keepalive {spec.keepalive};")
    lines.append("    }")
    return lines


def _server(topology: Topology) -> list[str]:
    host, port = topology.listen
    by_name = {spec.name: spec for spec in topology.upstreams}
    out = ["", "    server {", f"        listen {key_text(host, port)};"]
    for route in topology.routes:
        spec = by_name[route.upstream]
        out += [f"        location {route.prefix} {{", *proxy_lines(spec, " " * 12)]
        if route.primary and spec.health is not None:
            hc = spec.health
            out += [f"            # NGINX Plus: health_check uri={hc.uri} "
                    f"interval={format_time(hc.interval)} fails={hc.fails} passes={hc.passes} "
                    "mandatory;",
                    "            # Open-source nginx has no active checks: max_fails/fail_timeout",
                    "            # take a failing server out on client traffic. For checks without",
                    "            # traffic, use hotdeploy's engine = \"nginx\" (its live mode runs",
                    "            # them inside nginx) or an external checker."]
        out.append("        }")
    if not topology.has_catch_all:
        out += ["        location / {", "            return 404;", "        }"]
    out.append("    }")
    return out
