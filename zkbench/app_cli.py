"""``zkbench demo``, ``zkbench serve`` and ``zkbench settings``: ways into the app and its configuration."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from zkbench.errors import ZkBenchError

__all__ = ["register"]

def _connection_argv(args: argparse.Namespace) -> list[str]:
    argv: list[str] = []
    for flag, key in (("--connect", "connect"), ("--session-timeout", "session_timeout"),
                      ("--tls-cert", "tls_cert"), ("--tls-key", "tls_key"), ("--tls-ca", "tls_ca"),
                      ("--zk-home", "zk_home"), ("--config", "config")):
        value = getattr(args, key, None)
        if value:
            argv += [flag, str(value)]
    if getattr(args, "read_only", None):
        argv.append("--read-only")
    return argv


def _app_options(args: argparse.Namespace) -> tuple[list[str], dict[str, str]] | None:
    """What every tab's app is started with besides ``--hosts``: (argv, environment), or None after an error.

    A ``--auth`` credential travels in ``ZKBENCH_AUTH``: a process's environment is private to its user, while
    its arguments show in everyone's ``ps``. Credentials from a saved connection (``--connect``) or the
    environment reach the app by themselves."""
    argv = _connection_argv(args)
    for flag, key in (("--mirror-strategy", "mirror_strategy"), ("--theme", "theme")):
        if getattr(args, key, None):
            argv += [flag, str(getattr(args, key))]
    auth = getattr(args, "auth", None) or []
    if len(auth) > 1:
        print("zkbench: serve passes one --auth credential to its apps; for more, use a saved connection "
              "(--connect, see `zkbench settings`)", file=sys.stderr)
        return None
    return argv, ({"ZKBENCH_AUTH": auth[0]} if auth else {})


def _run_demo(args: argparse.Namespace) -> int:
    # The demo table (zkbench.demos) is imported here, not when the parser is built: it pulls in the actor
    # supervisor and checkers, ~0.1 s that every other zkbench command would pay.
    from zkbench.demos import demo_spec
    from zkbench.tui import run_tui

    try:
        demo_spec(args.kind)
    except ValueError as exc:
        print(f"zkbench: {exc}", file=sys.stderr)
        return 2
    args.start_screen = f"demo:{args.kind}"
    return run_tui(args)


def _serve(args: argparse.Namespace) -> int:
    try:
        import textual_serve  # noqa: F401 - the optional extra `serve`
    except ImportError:
        print("zkbench: `zkbench serve` needs textual-serve: pip install 'zkbench[serve]'", file=sys.stderr)
        return 1
    from zkbench.serve import serve
    from zkbench.tui import workbench_for_args

    options = _app_options(args)
    if options is None:
        return 2
    app_argv, app_env = options
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"zkbench: WARNING: serving on {args.host}:{args.port}, reachable from other machines, with NO "
              "authentication: anyone who can reach it can read and change your ZooKeeper.", file=sys.stderr)
    # One target for every tab: a private server (if needed) is started once, here, not per tab.
    resolved = workbench_for_args(args)
    if resolved is None:
        return 1
    workbench = resolved[1]
    argv = [sys.executable, "-m", "zkbench", "--hosts", workbench.hosts, *app_argv]
    print(f"zkbench: serving the app at http://{args.host}:{args.port} (one app process per browser tab); "
          "Ctrl-C stops", file=sys.stderr)
    try:
        serve(argv, host=args.host, port=args.port, env=app_env)
    finally:
        workbench.close()
    return 0


def _settings(args: argparse.Namespace) -> int:
    from zkbench.settings import load_settings

    try:
        settings = load_settings(args)
    except ZkBenchError as exc:
        print(f"zkbench: {exc}", file=sys.stderr)
        return 1
    print(f"config file: {settings.config_file}")
    for key in ("hosts", "connection_name", "session_timeout", "connect_timeout", "read_only", "mirror_strategy",
                "theme", "zk_home", "tls_certfile", "tls_keyfile", "tls_ca"):
        value = getattr(settings, key)
        print(f"{key:16} = {value!r:40} ({settings.sources.get(key, 'cli' if value else 'default')})")
    print(f"{'auth':16} = {', '.join(f'{s}:{c.split(chr(58))[0]}:***' for s, c in settings.auth) or '-'}")
    for name, saved in sorted(settings.connections.items()):
        print(f"connection {name}: {saved.hosts}{' (read-only)' if saved.read_only else ''}")
    for binding_id, keys in sorted(settings.keys.items()):
        print(f"key {binding_id} = {keys}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # noqa: SLF001
    p = sub.add_parser("demo", parents=[common], help="open the app on a recipe demo (lock, election, ...)",
                       description="Open the app straight on a workshop demo screen.")
    p.add_argument("kind", metavar="KIND",
                   help="which demo: lock, election, queue, discovery, barrier, config or master-worker")
    p.set_defaults(func=_run_demo)

    p = sub.add_parser("serve", parents=[common], help="serve the app in a web browser (textual-serve)",
                       description="Serve zkbench in a browser for workshop rooms: one app process per tab, all "
                                   "on one ZooKeeper (a private local server is started once if needed). Closing "
                                   "a tab stops its app and its demo's actors; stopping the server stops them all. "
                                   "There is no authentication, so it binds to loopback unless told otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("settings", parents=[common], help="show the resolved settings and where each came from",
                       description="Print every setting with its source (cli, env, file or default).")
    p.set_defaults(func=_settings)
