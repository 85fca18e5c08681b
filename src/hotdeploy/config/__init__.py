"""The nginx configuration front-end: nginx.conf text -> the typed, merged model.

Public entry points (other parts call exactly these):
- `loader.load_config(path, prefix=None, globals_=None) -> MainConfig` (`nginx -c -p -g`),
  raising `hotdeploy.errors.ConfigError` worded like `nginx -t`;
- `loader.dump_config(config) -> str` (the body of `nginx -T`);
- `routing.Router(http)` with `find_server`, `find_location`, `servers_for`,
  `listen_sockets`, `named_location`, and `routing.normalize_uri(raw_path)`;
- `variables.compile_template`, `KNOWN_VARIABLES`, `VARIABLE_PREFIXES`.

Pipeline: `reader` (crossplane tokens -> directive tree, includes, context/arity checks per
`directives`) -> `http`/`servers`/`locations`/`upstream`/`health` (values checked in document
order, as nginx does) -> `settings.merge` (inheritance http -> server -> location) -> `model`.
"""
