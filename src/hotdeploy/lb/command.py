"""`hotdeploy lb`: the load balancer with nginx's command line (-c -p -e -g -t -T -q -s -v -V)."""

from __future__ import annotations

import typer

from hotdeploy.lb.options import LbOptions

HELP = {
    "c": "Configuration file (default: conf/nginx.conf under the prefix).",
    "p": "Prefix path (default: /usr/local/hotdeploy/).",
    "e": "Error log file, or 'stderr', used before the configuration is read.",
    "g": 'Global directives, e.g. -g "daemon off;".',
    "t": "Test the configuration and exit.",
    "T": "Test the configuration, dump it and exit.",
    "q": "Suppress non-error messages while testing.",
    "s": "Send a signal to the running balancer: stop, quit, reopen, reload.",
    "v": "Show the version and exit.",
    "V": "Show the version and build details and exit.",
}


def lb(
    conf: str | None = typer.Option(None, "-c", metavar="FILE", help=HELP["c"]),
    prefix: str | None = typer.Option(None, "-p", metavar="PREFIX", help=HELP["p"]),
    error_log: str | None = typer.Option(None, "-e", metavar="FILE", help=HELP["e"]),
    globals_: str | None = typer.Option(None, "-g", metavar="DIRECTIVES", help=HELP["g"]),
    test: bool = typer.Option(False, "-t", help=HELP["t"]),
    dump: bool = typer.Option(False, "-T", help=HELP["T"]),
    quiet: bool = typer.Option(False, "-q", help=HELP["q"]),
    signal: str | None = typer.Option(None, "-s", metavar="SIGNAL", help=HELP["s"]),
    version: bool = typer.Option(False, "-v", help=HELP["v"]),
    version_full: bool = typer.Option(False, "-V", help=HELP["V"]),
) -> None:
    """Run the nginx-compatible load balancer (the data plane)."""
    from hotdeploy.lb.main import run_lb

    options = LbOptions(conf=conf, prefix=prefix, error_log=error_log, globals_=globals_,
                        test=test, dump=dump, quiet=quiet, signal=signal, version=version,
                        version_full=version_full)
    raise typer.Exit(run_lb(options))


def register(app: typer.Typer) -> None:
    app.command("lb", context_settings={"help_option_names": ["-h", "-?", "--help"]})(lb)
