"""Regenerate screenshots/*.svg (and *.png when rsvg-convert is installed) from the sandbox seed.

Every view is shot at 120x36 and 80x24 against a fresh in-memory sandbox with its seed
timestamps pinned and the session label pinned, so a rerun produces the same files:

    python scripts/screenshots.py [--out screenshots] [--no-png]

Views: the chutes list, the images list, a chute's detail (overview tab), the help screen,
the confirm-delete dialog, the shares list and the share dialog, a streamed call, the
account screen's Spend, keys and secrets tabs and the new-key dialog. PNGs need `rsvg-convert`
(Debian/Ubuntu: librsvg2-bin); without it the script says so and writes only the SVGs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ((120, 36), (80, 24))
SEED_TIME = "2026-01-01T12:00:00.000000Z"
LABEL = "http://127.0.0.1:8765"
# Seeded credentials (and so user ids) derive from a random per-database secret: pin it.
SECRET = "0" * 64
DETAIL_CHUTE = "hello-world"  # the seeded chute that is hot, with an instance
LIVE_CHUTE = "echo-stream"  # cold at first: the live view shows its warmup


def _isolate(tmp: Path) -> None:
    """No preferences, remembered chutes or sandbox data from the user running this."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(tmp / name.lower())
    for name in list(os.environ):
        if name.startswith("CHUTES_"):
            del os.environ[name]


def _session(tmp: Path):
    from chutes_tui import config
    from chutes_tui.client.signing import Credentials
    from chutes_tui.sandbox.seed import credentials
    from chutes_tui.sandbox.server import start_in_thread
    from chutes_tui.sandbox.settings import SandboxSettings
    from chutes_tui.sandbox.storage import Store
    from chutes_tui.tui.session import Session

    # Fast enough that a warmup finishes within a second or two (the live view).
    settings = SandboxSettings(db_path=tmp / "sandbox.db", seed_time=SEED_TIME, speed=20.0)
    store = Store(settings.db_path)
    try:
        with store.tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (SECRET,))
    finally:
        store.close()
    running = start_in_thread(settings)
    store = Store(settings.db_path)
    try:
        # The seed stamps users and API keys with the wall clock even when seed_time is set,
        # and the images view shows each image's owner record.
        with store.tx() as db:
            db.execute("UPDATE users SET created_at = ?", (SEED_TIME,))
            db.execute("UPDATE api_keys SET created_at = ?", (SEED_TIME,))
            _keys_and_secrets(db, credentials(store, "demo").user_id)
        key = credentials(store, "demo").api_key
    finally:
        store.close()
    connection = config.Connection(
        base_url=running.url, credentials=Credentials(api_key=key), username="demo"
    )
    return Session(connection, sandbox=running, label=LABEL)


def _keys_and_secrets(db, user_id: str) -> None:
    """Two scoped keys and three secrets for the account screen's tabs, stamped SEED_TIME."""
    from chutes_tui.sandbox.keys import hash_api_key

    def chute(name: str) -> str:
        return db.execute("SELECT chute_id FROM chutes WHERE name = ?", (name,)).fetchone()[
            "chute_id"
        ]

    keys = (
        (
            "0b6f2c1e-4d3a-4c5b-8e7f-9a0b1c2d3e4f",
            "ci-deploy",
            [("images", None, "read"), ("chutes", None, "write")],
        ),
        (
            "1c7a3d2f-5e4b-4d6c-9f8a-0b1c2d3e4f5a",
            "hello-reader",
            [("chutes", chute("hello-world"), "read")],
        ),
    )
    for number, (key_id, name, scopes) in enumerate(keys):
        db.execute(
            "INSERT INTO api_keys (api_key_id, user_id, name, admin, key_hash, created_at)"
            " VALUES (?, ?, ?, 0, ?, ?)",
            (key_id, user_id, name, hash_api_key(f"never-used-{name}"), SEED_TIME),
        )
        for index, (kind, object_id, action) in enumerate(scopes):
            db.execute(
                "INSERT INTO api_key_scopes (scope_id, api_key_id, object_type, object_id, action)"
                " VALUES (?, ?, ?, ?, ?)",
                (f"{number}{index}" + key_id[2:], key_id, kind, object_id, action),
            )
    for index, (name, key) in enumerate(
        (("hello-world", "HF_TOKEN"), ("hello-world", "WANDB_API_KEY"), ("llama-mini", "HF_TOKEN"))
    ):
        db.execute(
            "INSERT INTO secrets (secret_id, user_id, purpose, key, value_sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                f"5ec{index}e7a1-2b3c-4d5e-8f9a-0b1c2d3e4f5a",
                user_id,
                chute(name),
                key,
                "-",
                SEED_TIME,
            ),
        )


async def _until(pilot, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def shoot_size(tmp: Path, out: Path, width: int, height: int) -> list[Path]:
    from textual.widgets import Input

    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.screens.account_spend import SpendPane
    from chutes_tui.tui.screens.build import BuildScreen
    from chutes_tui.tui.screens.build_wizard import BuildWizard
    from chutes_tui.tui.screens.call import CallScreen
    from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
    from chutes_tui.tui.screens.deploy import DeployScreen
    from chutes_tui.tui.screens.help import HelpScreen
    from chutes_tui.tui.screens.live import LiveScreen
    from chutes_tui.tui.screens.modals import ConfirmScreen
    from chutes_tui.tui.screens.resources import ImagesScreen
    from chutes_tui.tui.screens.shares import ShareScreen, SharesScreen

    session = _session(tmp)
    app = ChutesApp(session, DashboardOptions(refresh_interval=0))
    written: list[Path] = []

    def save(view: str) -> None:
        name = f"{view}-{width}x{height}.svg"
        app.save_screenshot(filename=name, path=str(out))
        written.append(out / name)

    async with app.run_test(size=(width, height)) as pilot:

        def loaded() -> bool:
            return (
                all(feed.loaded and not feed.loading for feed in app.state.feeds)
                and app.state.account is not None
                and app.state.connection == "online"
            )

        await _until(pilot, loaded, "the chutes and images feeds")
        table = app.screen.query_one("#table")
        await _until(pilot, lambda: table.row_count > 0, "rows in the chutes table")
        save("chutes")

        await pilot.press("2")
        await _until(
            pilot,
            lambda: isinstance(app.screen, ImagesScreen) and app.screen.table.row_count > 0,
            "the images list",
        )
        save("images")

        images = app.screen
        broken = [k for k in images.table.visible_keys if images.table.row(k).name == "broken"]
        images.table.move_to(broken[0])
        await pilot.press("enter")
        await _until(
            pilot,
            lambda: isinstance(app.screen, BuildScreen) and app.screen.ended,
            "the failed image's log",
        )
        save("image-failed-log")
        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is images, "back to the images list")

        await pilot.press("b")
        await _until(
            pilot,
            lambda: isinstance(app.screen, BuildWizard) and app.screen.query("#ref"),
            "the build wizard",
        )
        app.screen.query_one("#ref", Input).value = "own_image:chute"
        await pilot.press("enter")
        await _until(pilot, lambda: app.screen.plan is not None, "the build plan", 60)
        save("build-wizard")
        await pilot.press("y")
        await _until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build view")
        building = app.screen
        await _until(pilot, lambda: building.lines >= 12, "build log lines", 60)
        save("build")
        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is images, "back to the images list")

        await pilot.press("1")
        await _until(pilot, lambda: not isinstance(app.screen, ImagesScreen), "the chutes list")
        chutes = app.screen
        keys = [k for k in chutes.table.visible_keys if chutes.table.row(k).name == DETAIL_CHUTE]
        chutes.table.move_to(keys[0])
        await pilot.pause()

        await pilot.press("enter")
        await _until(
            pilot,
            lambda: isinstance(app.screen, ChuteDetailScreen) and app.screen.chute is not None,
            "the chute detail",
        )
        await pilot.pause(0.3)  # the readme Markdown mounts its blocks after the update
        save("chute-detail")

        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is chutes, "back to the chutes list")

        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        save("help")

        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is chutes, "back to the chutes list")

        await pilot.press("x")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        save("confirm-delete")

        await pilot.press("n")
        await _until(pilot, lambda: app.screen is chutes, "the dialog to close")

        await pilot.press("3")
        await _until(
            pilot,
            lambda: isinstance(app.screen, SharesScreen) and app.screen.table.row_count > 0,
            "the shares list",
        )
        save("shares")

        await pilot.press("a", "b", "o", "b")
        await _until(
            pilot,
            lambda: (
                isinstance(app.screen, ShareScreen)
                and "exists" in str(app.screen.query_one("#share-check").render())
            ),
            "the share dialog with a checked user",
        )
        save("share-dialog")

        await pilot.press("escape")
        await pilot.press("1")
        await _until(pilot, lambda: app.screen is chutes, "back to the chutes list")
        await pilot.press("d")
        await _until(
            pilot,
            lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#ref"),
            "the deploy wizard",
        )
        await pilot.press("enter")
        await _until(pilot, lambda: app.screen.plan is not None, "the deploy plan")
        save("deploy")

        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is chutes, "back to the chutes list")
        app.open_live(LIVE_CHUTE)
        await _until(
            pilot,
            lambda: isinstance(app.screen, LiveScreen) and app.screen.live is not None,
            "the live view",
        )
        await pilot.press("w", "y")
        live = app.screen
        await _until(pilot, lambda: live.live.hot, "the warmup to finish")
        await _until(pilot, lambda: len(live.logs.panes["all"]) > 40, "log lines")
        save("live")

        await pilot.press("escape")
        app.push_screen(ChuteDetailScreen(LIVE_CHUTE))  # hot now: call its streaming cord
        await _until(
            pilot,
            lambda: isinstance(app.screen, ChuteDetailScreen) and app.screen.chute is not None,
            "the streaming chute's detail",
        )
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, CallScreen), "the call screen")
        call = app.screen
        call.field(0).value = "every word comes back as a chunk"
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: call.result is not None, "the streamed reply")
        save("call")
        await pilot.press("escape", "escape")
        await _until(pilot, lambda: app.screen is chutes, "back to the chutes list")

        await pilot.press("4")
        await _until(
            pilot,
            lambda: any(pane.report is not None for pane in app.screen.query(SpendPane)),
            "the spend tab",
        )
        save("account-spend")

        await pilot.press("4", "right")
        await _until(pilot, lambda: app.screen.query("KeysPane").first().loaded, "the keys tab")
        save("account-keys")
        await pilot.press("n")
        await _until(pilot, lambda: app.screen.query("#scope-target"), "the new-key dialog")
        await pilot.press(*"deploy-bot")
        save("new-key")
        await pilot.press("escape", "right")
        await _until(
            pilot, lambda: app.screen.query("SecretsPane").first().loaded, "the secrets tab"
        )
        save("account-secrets")
    return written


def _for_rsvg(svg: str) -> str:
    """Rich's SVG, adjusted so librsvg draws it on the terminal's grid.

    librsvg strips the leading spaces of every text run (which glues words to the bold
    run before them) unless told to preserve them, and ignores `textLength`, so a font
    narrower than Rich's 0.61 em cell drifts left along long runs (box borders stop short).
    DejaVu Sans Mono is 0.602 em wide: 0.16 px of letter spacing makes it 12.2 px at 20 px.
    """
    svg = svg.replace(
        '<svg class="rich-terminal"', '<svg xml:space="preserve" class="rich-terminal"'
    )
    return svg.replace(
        "font-family: Fira Code, monospace;",
        'font-family: "DejaVu Sans Mono", monospace; letter-spacing: 0.16px;',
    )


def to_png(svgs: list[Path]) -> None:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        print("rsvg-convert not found: PNGs skipped (install librsvg2-bin to get them)")
        return
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run(
            [tool, "--format=png", "--output", str(png)],  # the SVG comes on stdin
            input=_for_rsvg(svg.read_text()).encode(),
            check=True,
        )
        print(f"wrote {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--no-png", action="store_true", help="write only the SVGs")
    parser.add_argument(
        "--png-only", action="store_true", help="only convert the SVGs already in --out"
    )
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.png_only:
        to_png(sorted(out.glob("*.svg")))
        return 0
    svgs: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="chutes-tui-shots-") as name:
        tmp = Path(name)
        _isolate(tmp)
        chute_files = tmp / "chutes"  # the deploy wizard looks in the working directory
        chute_files.mkdir()
        for example in (ROOT / "examples").glob("*.*"):
            shutil.copy(example, chute_files / example.name)
        here = os.getcwd()
        os.chdir(chute_files)
        for width, height in SIZES:
            size_dir = tmp / f"{width}x{height}"
            size_dir.mkdir()
            written = asyncio.run(shoot_size(size_dir, out, width, height))
            for path in written:
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
            svgs.extend(written)
        os.chdir(here)
    if not args.no_png:
        to_png(svgs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
