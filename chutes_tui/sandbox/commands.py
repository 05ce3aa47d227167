"""`chutes-tui sandbox serve|config`."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.settings import (
    DEFAULT_PORT,
    OLDER_SERVER,
    SandboxSettings,
    default_db_path,
)

if TYPE_CHECKING:
    from chutes_tui.sandbox.seed import Credentials
    from chutes_tui.sandbox.storage import Store

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The headless CLI's ExitCode.UNAVAILABLE (the sandbox does not import the client):
# nothing listens at the URL, or the address cannot be listened on.
UNAVAILABLE = 8


def _settings(args: argparse.Namespace) -> SandboxSettings:
    from chutes_tui.core.pricing import GpuTable
    from chutes_tui.sandbox.settings import older_gpu_table

    older = args.older_server
    table = older_gpu_table() if older and args.gpu_table is None else GpuTable.load(args.gpu_table)
    return SandboxSettings(
        db_path=args.db or default_db_path(),
        speed=args.speed,
        seed=not args.no_seed,
        fee_formula=args.fee_formula or ("quadratic" if older else "linear"),
        tao_usd=args.tao_usd,
        history_limit=max(args.history_limit, 0),
        gpu_table=table,
        older=older,
        seed_time=args.seed_time,
        extra_chutes=max(args.extra_chutes, 0),
        log_burst=args.log_burst,
        burst_seconds=args.burst_seconds,
        paused=args.paused_clock,
        max_build_upload=(
            limits.MAX_BUILD_UPLOAD if args.max_build_upload is None else args.max_build_upload
        ),
    )


def serve(args: argparse.Namespace) -> int:
    """Bind first, then say where it listens: a taken port is one line and exit 8."""
    from chutes_tui.sandbox.server import bind
    from chutes_tui.sandbox.server import serve as run_server

    try:
        settings = _settings(args)
    except (OSError, ValueError, KeyError) as error:
        print(f"chutes-tui: cannot read the GPU table: {error}", file=sys.stderr)
        return 2
    port = DEFAULT_PORT if args.port is None else args.port
    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        sock = bind(args.host, port)
    except OSError as error:
        reason = (
            "the address is already in use (another sandbox?); pick another with --port"
            if error.errno == errno.EADDRINUSE
            else error.strerror or str(error)
        )
        print(f"chutes-tui: cannot serve on {host}:{port}: {reason}", file=sys.stderr)
        return UNAVAILABLE

    url = f"http://{host}:{sock.getsockname()[1]}"  # the port --port 0 was given

    def banner() -> None:
        print(
            f"chutes-tui sandbox: local simulated Chutes API on {url}\n"
            f"  database {settings.db_path}, speed x{settings.speed:g}"
            f"{', clock paused' if settings.paused else ''}\n"
            f"  no real GPUs and no real money; point the chutes CLI at it with\n"
            f"  chutes-tui sandbox config --url {url} > sandbox.ini\n"
            f"  CHUTES_CONFIG_PATH=sandbox.ini chutes chutes list",
            file=sys.stderr,
        )
        if settings.older:
            print("  behaving like the late-2025 server:", file=sys.stderr)
            for behaviour in OLDER_SERVER:
                print(f"    - {behaviour}", file=sys.stderr)
        if args.host not in LOOPBACK:
            print(f"  WARNING: listening on {args.host}, beyond this machine", file=sys.stderr)

    with sock:
        started = run_server(settings, sock, quiet=args.quiet, on_ready=banner)
    return 0 if started else UNAVAILABLE


def format_config(cred: Credentials, url: str) -> str:
    """A config.ini in the SDK's format."""
    return (
        f"[api]\nbase_url = {url}\n\n"
        f"[auth]\nusername = {cred.username}\nuser_id = {cred.user_id}\n"
        f"hotkey_seed = {cred.hotkey_seed}\nhotkey_name = sandbox\n"
        f"hotkey_ss58address = {cred.hotkey}\n\n"
        f"[payment]\naddress = {cred.payment_address}\n"
    )


def config_text(username: str, url: str, store: Store) -> str | None:
    """A config.ini in the SDK's format for a seeded user, or None if there is no such user."""
    from chutes_tui.sandbox.seed import credentials

    user = store.find_user(username)
    if user is None:
        return None
    return format_config(credentials(store, user["username"]), url)


def _no_user(username: str) -> int:
    print(f"chutes-tui: no sandbox user {username!r} (seeded: demo, alice, bob)", file=sys.stderr)
    return 2


def _print(cred: Credentials, url: str, api_key: bool) -> None:
    print(cred.api_key if api_key else format_config(cred, url), end="\n" if api_key else "")


def config(args: argparse.Namespace) -> int:
    """With `--url`, the credentials of the sandbox serving there; else those of `--db`."""
    if args.url:
        return _config_of_running(args)
    from chutes_tui.sandbox.app import open_store
    from chutes_tui.sandbox.seed import credentials

    store = open_store(SandboxSettings(db_path=args.db or default_db_path()))
    try:
        user = store.find_user(args.user)
        if user is None:
            return _no_user(args.user)
        _print(
            credentials(store, user["username"]), f"http://127.0.0.1:{DEFAULT_PORT}", args.api_key
        )
    finally:
        store.close()
    return 0


def _config_of_running(args: argparse.Namespace) -> int:
    """Ask the sandbox at `--url` (loopback only) for the user's credentials."""
    import httpx

    from chutes_tui.sandbox.seed import Credentials

    url = args.url
    try:
        reply = httpx.get(
            f"{url.rstrip('/')}/_sandbox/credentials", params={"user": args.user}, timeout=10
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        print(
            f"chutes-tui: no sandbox answers at {url} ({error or type(error).__name__});"
            " start one with `chutes-tui sandbox serve`, or drop --url to read a database",
            file=sys.stderr,
        )
        return UNAVAILABLE
    try:
        data = reply.json()
        detail = str(data.get("detail", "")) if isinstance(data, dict) else ""
    except ValueError:
        data, detail = None, ""
    if reply.status_code == 404 and detail.startswith("No sandbox user"):
        return _no_user(args.user)
    if reply.status_code == 403:
        print(
            f"chutes-tui: the sandbox at {url} hands out credentials only to its own machine;"
            " run this there, or pass --db with its database file",
            file=sys.stderr,
        )
        return UNAVAILABLE
    try:
        cred = Credentials(**{field.name: data[field.name] for field in fields(Credentials)})
        database = str(data["database"])
    except (KeyError, TypeError):
        print(
            f"chutes-tui: {url} does not answer like a chutes-tui sandbox"
            f" (GET /_sandbox/credentials: {reply.status_code})",
            file=sys.stderr,
        )
        return UNAVAILABLE
    if args.db is not None and not _same_database(args.db, database):
        print(
            f"chutes-tui: the sandbox at {url} serves {database}, not {args.db};"
            " drop --db to use its keys, or --url to read that file",
            file=sys.stderr,
        )
        return 2
    _print(cred, url, args.api_key)
    return 0


def _same_database(ours: Path, theirs: str) -> bool:
    if theirs == ":memory:":
        return False
    try:
        return os.path.samefile(ours, theirs)
    except OSError:
        return ours.resolve() == Path(theirs)


def run(args: argparse.Namespace) -> int:
    return {"serve": serve, "config": config}[args.action](args)
