"""`chutes-tui sandbox serve|config`."""

from __future__ import annotations

import argparse
import sys

from chutes_tui.sandbox.settings import DEFAULT_PORT, SandboxSettings, default_db_path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _settings(args: argparse.Namespace) -> SandboxSettings:
    from chutes_tui.core.pricing import GpuTable

    return SandboxSettings(
        db_path=args.db or default_db_path(),
        speed=args.speed,
        seed=not args.no_seed,
        fee_formula=args.fee_formula,
        tao_usd=args.tao_usd,
        history_limit=max(args.history_limit, 0),
        gpu_table=GpuTable.load(args.gpu_table),
        seed_time=args.seed_time,
        extra_chutes=max(args.extra_chutes, 0),
        log_burst=args.log_burst,
        burst_seconds=args.burst_seconds,
        paused=args.paused_clock,
    )


def serve(args: argparse.Namespace) -> int:
    from chutes_tui.sandbox.server import serve as run_server

    try:
        settings = _settings(args)
    except (OSError, ValueError, KeyError) as error:
        print(f"chutes-tui: cannot read the GPU table: {error}", file=sys.stderr)
        return 2
    port = DEFAULT_PORT if args.port is None else args.port
    print(
        f"chutes-tui sandbox: local simulated Chutes API on http://{args.host}:{port}\n"
        f"  database {settings.db_path}, speed x{settings.speed:g}"
        f"{', clock paused' if settings.paused else ''}\n"
        f"  no real GPUs and no real money; point the chutes CLI at it with\n"
        f"  chutes-tui sandbox config --url http://{args.host}:{port} > sandbox.ini\n"
        f"  CHUTES_CONFIG_PATH=sandbox.ini chutes chutes list",
        file=sys.stderr,
    )
    if args.host not in LOOPBACK:
        print(f"  WARNING: listening on {args.host}, beyond this machine", file=sys.stderr)
    try:
        run_server(settings, args.host, port, quiet=args.quiet)
    except OSError as error:
        print(f"chutes-tui: cannot listen on {args.host}:{port}: {error.strerror}", file=sys.stderr)
        return 3
    return 0


def config_text(username: str, url: str, store) -> str | None:
    """A config.ini in the SDK's format for a seeded user, or None if there is no such user."""
    from chutes_tui.sandbox.seed import credentials

    user = store.find_user(username)
    if user is None:
        return None
    cred = credentials(store, user["username"])
    return (
        f"[api]\nbase_url = {url}\n\n"
        f"[auth]\nusername = {cred.username}\nuser_id = {cred.user_id}\n"
        f"hotkey_seed = {cred.hotkey_seed}\nhotkey_name = sandbox\n"
        f"hotkey_ss58address = {cred.hotkey}\n\n"
        f"[payment]\naddress = {cred.payment_address}\n"
    )


def config(args: argparse.Namespace) -> int:
    from chutes_tui.sandbox.app import open_store
    from chutes_tui.sandbox.seed import credentials

    store = open_store(SandboxSettings(db_path=args.db or default_db_path()))
    try:
        text = config_text(args.user, args.url or f"http://127.0.0.1:{DEFAULT_PORT}", store)
        if text is None:
            print(
                f"chutes-tui: no sandbox user {args.user!r} (seeded: demo, alice, bob)",
                file=sys.stderr,
            )
            return 2
        print(
            credentials(store, store.find_user(args.user)["username"]).api_key
            if args.api_key
            else text,
            end="\n" if args.api_key else "",
        )
    finally:
        store.close()
    return 0


def run(args: argparse.Namespace) -> int:
    return {"serve": serve, "config": config}[args.action](args)
