"""The account screen's Keys and Secrets tabs, driven key by key against a real sandbox.

A new key's secret is on screen once, in the reveal dialog, and nowhere after it closes (not
in the list, a toast, the app's clipboard, the debug log or any file under the test's home);
a secret's value is typed masked, sent once, and never on screen or on disk.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, TabbedContent

from chutes_tui.client import debuglog
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.keymap import conflicts
from chutes_tui.tui.screens.account import AccountScreen
from chutes_tui.tui.screens.account_key_dialogs import NewKeyScreen, RevealKeyScreen
from chutes_tui.tui.screens.account_keys import KeysPane
from chutes_tui.tui.screens.account_secrets import NewSecretScreen, SecretRow, SecretsPane
from chutes_tui.tui.screens.modals import ConfirmScreen, InfoScreen
from tests.conftest import Sandbox, running_sandbox
from tests.test_tui import (  # noqa: F401 - fixtures are found by name
    Notes,
    app_for,
    make_app,
    plain,
    private_dirs,
    type_text,
    wait_for,
    wait_loaded,
)

KEY_RE = re.compile(r"cpk_[0-9a-f]{32}\.[0-9a-f]{32}\.[A-Za-z0-9]{32}")
VALUE = "hf_TuiValueNeverOnScreen_77aa11bb22cc"


@pytest.fixture
def own_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh sandbox per test at real speed; the request log on, under the test's home."""
    monkeypatch.setenv("CHUTES_TUI_DEBUG", "1")
    monkeypatch.setattr(debuglog, "_shared", None)  # not a log an earlier test opened elsewhere
    with running_sandbox(tmp_path / "box", speed=1.0) as box:
        yield box
    if debuglog._shared is not None:
        debuglog._shared.close()


def everything_written(home: Path) -> bytes:
    return b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())


def shown(app: ChutesApp) -> str:
    """What the screen shows now, as text: every Static, and the screenshot's characters."""
    statics = "\n".join(plain(static.content) for static in app.screen.query(Static))
    svg = app.export_screenshot()
    drawn = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
    return statics + "\n" + re.sub(r"\s+", "", drawn)


async def open_tab(pilot: Pilot, tab: str) -> ChutesApp:
    app = await wait_loaded(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen), "the account screen")
    steps = {"keys": 1, "secrets": 2}[tab]
    await pilot.press(*["right"] * steps)
    tabs = app.screen.query_one(TabbedContent)
    await wait_for(pilot, lambda: tabs.active == tab, f"the {tab} tab")
    pane = app.screen.query_one(KeysPane if tab == "keys" else SecretsPane)
    await wait_for(pilot, lambda: pane.loaded or pane.error, f"the {tab}")
    return app


def keys_pane(app: ChutesApp) -> KeysPane:
    return app.screen.query_one(KeysPane)


def key_names(app: ChutesApp) -> list[str]:
    table = keys_pane(app).table
    return sorted(table.row(key).name for key in table.visible_keys)


def api(box: Sandbox, path: str, key: str | None = None) -> list[dict]:
    with box.http() as http:
        headers = {"Authorization": key or box.users["demo"].api_key}
        reply = http.get(path, headers=headers)
        reply.raise_for_status()
        return reply.json()["items"]


# keys


async def test_a_new_key_is_revealed_once_then_forgotten(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "keys")
        notes = Notes(app)
        assert key_names(app) == ["sandbox"]
        assert keys_pane(app).table.row(keys_pane(app).table.visible_keys[0]).in_use
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewKeyScreen), "the new-key dialog")
        await type_text(pilot, "ci reader")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealKeyScreen), "the reveal")
        (secret,) = KEY_RE.findall(shown(app))
        statics = "\n".join(plain(s.content) for s in app.screen.query(Static))
        assert statics.count(secret) == 1  # once; the header line shows only its start
        assert "Authorization: Bearer cpk_" in statics and "only time" in statics
        assert "chutes:read" in statics  # the default scope: read every chute
        await pilot.press("escape")  # not copied yet: a warning, and it stays
        assert isinstance(app.screen, RevealKeyScreen) and notes.titled("Not copied")
        await pilot.press("c")
        assert app.clipboard == secret
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen), "the dialog closed")
        await wait_for(pilot, lambda: "ci reader" in key_names(app), "the new key listed")
        assert app.clipboard == ""
        assert secret not in shown(app)
        assert not any(secret in message for _, message in notes.seen)
        # it works, as scoped: it reads chutes and nothing else
        assert len(api(own_box, "/chutes/", secret)) == 3
        with own_box.http() as http:
            assert http.get("/images/", headers={"Authorization": secret}).status_code == 401
    written = everything_written(Path(os.environ["HOME"]))
    assert b"/api_keys/" in written  # the request log is there, and holds no secret
    assert secret.encode() not in written


async def test_admin_and_several_scopes(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "keys")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewKeyScreen), "the new-key dialog")
        dialog = app.screen
        await choose(pilot, dialog.query_one("#key-access", Select), "admin")
        await pilot.pause()
        assert not dialog.query_one("#scope-editor").display
        await type_text(pilot, "everything")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealKeyScreen), "the reveal")
        await pilot.press("c", "escape")
        await wait_for(pilot, lambda: "everything" in key_names(app), "the admin key")

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewKeyScreen), "the new-key dialog")
        dialog = app.screen
        hello = next(row for row in app.state.chutes.rows if row.name == "hello-world")
        await choose(pilot, dialog.query_one("#scope-action", Select), "delete")
        await pilot.pause()
        await choose(pilot, dialog.query_one("#scope-target", Select), hello.chute_id)
        await pilot.pause()
        await pilot.click("#scope-add")
        await choose(pilot, dialog.query_one("#scope-object", Select), "images")
        await pilot.pause()
        await choose(pilot, dialog.query_one("#scope-action", Select), "any")
        await pilot.pause()
        await pilot.click("#scope-add")
        listed = plain(dialog.query_one("#scope-list", Static).content)
        assert "chutes:delete:hello-world" in listed and "images:any" in listed
        dialog.query_one("#key-name", Input).focus()
        await type_text(pilot, "two")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealKeyScreen), "the reveal")
        await pilot.press("h")
        assert app.clipboard.startswith("Authorization: Bearer cpk_")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "two" in key_names(app), "the scoped key")
        assert app.clipboard == ""
        rows = {
            row.name: row
            for row in map(keys_pane(app).table.row, keys_pane(app).table.visible_keys)
        }
        assert rows["everything"].access == "admin (everything)"
        assert rows["two"].access == "chutes:delete:hello-world, images:any"
    (two,) = [key for key in api(own_box, "/api_keys/") if key["name"] == "two"]
    assert [(s["object_type"], s["object_id"], s["action"]) for s in two["scopes"]] == [
        ("chutes", hello.chute_id, "delete"),
        ("images", None, None),
    ]


async def test_a_refused_create_says_why_and_shows_nothing(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "keys")
        notes = Notes(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewKeyScreen), "the new-key dialog")
        await type_text(pilot, "sandbox")
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes.any("already exists with this name"), "the refusal")
        assert isinstance(app.screen, AccountScreen)


async def test_delete_asks_names_the_key_in_use_and_deletes_on_y(own_box: Sandbox) -> None:
    with own_box.http() as http:
        body = b'{"name":"old","admin":true}'
        headers = own_box.users["demo"].signed(body=body)
        assert http.post("/api_keys/", content=body, headers=headers).status_code == 200
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "keys")
        table = keys_pane(app).table
        await wait_for(pilot, lambda: table.row_count == 2, "both keys")
        table.move_to(next(k for k in table.visible_keys if table.row(k).name == "old"))
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        body = plain(app.screen.query_one("#dialog-body", Static).content)
        assert "Delete API key old" in body and "this dashboard uses" not in body
        await pilot.press("n")
        assert key_names(app) == ["old", "sandbox"]
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: key_names(app) == ["sandbox"], "the key gone")
        assert [key["name"] for key in api(own_box, "/api_keys/")] == ["sandbox"]
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "this dashboard uses" in plain(app.screen.query_one("#dialog-body", Static).content)
        await pilot.press("escape")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoScreen), "the key's details")
        details = plain(app.screen.query_one("#dialog-body", Static).content)
        assert "admin (everything)" in details and "signs with" in details


async def test_a_scoped_dashboard_key_is_told_it_cannot_list_keys(own_box: Sandbox) -> None:
    with own_box.http() as http:
        body = (
            b'{"name":"narrow","admin":false,"scopes":[{"object_type":"chutes","action":"read"}]}'
        )
        headers = own_box.users["demo"].signed(body=body)
        secret = http.post("/api_keys/", content=body, headers=headers).json()["secret_key"]
    app = make_app(own_box.url, secret)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.chutes.loaded, "the chutes")
        await pilot.press("4", "right")
        pane = app.screen.query_one(KeysPane)
        await wait_for(pilot, lambda: pane.error is not None, "the refusal")
        assert "Only an admin API key or your hotkey may list API keys" in plain(
            pane.query_one("#keys-note", Static).content
        )


def test_the_tabs_keys_can_be_remapped() -> None:
    warnings = conflicts({"keys.create": "ctrl+n", "secrets.delete": "ctrl+d"})
    assert not any("is no binding id" in warning for warning in warnings), warnings


# secrets


async def choose(pilot: Pilot, select: Select, value: object) -> None:
    """Pick a value once the Select has mounted: mounting sets the value it was made with."""
    await wait_for(pilot, lambda: select.is_mounted, "the select")
    select.value = value
    await pilot.pause()


def tree_secrets(app: ChutesApp) -> list[tuple[str, str]]:
    pane = app.screen.query_one(SecretsPane)
    return sorted((row.chute, row.key) for row in pane.rows)


def secrets_story(app: ChutesApp, box: Sandbox, notes: Notes) -> Callable[[], str]:
    """What the app, its notifications and the sandbox's table say, for a failed wait."""

    def story() -> str:
        with sqlite3.connect(box.db_path) as db:
            stored = db.execute("SELECT purpose, key FROM secrets").fetchall()
        pane = next(iter(app.query(SecretsPane)), None)
        workers = [(worker.group, worker.state.name) for worker in app.workers]
        return (
            f"screens {[type(screen).__name__ for screen in app.screen_stack]};"
            f" pane rows {tree_secrets(app) if pane else None}, loaded"
            f" {pane.loaded if pane else None}, error {pane.error if pane else None};"
            f" workers {workers}; notes {notes.seen}; stored {stored};"
            f" chutes {[(row.chute_id, row.name) for row in app.state.chutes.rows]}"
        )

    return story


async def test_a_secret_is_typed_masked_sent_once_and_never_shown(
    own_box: Sandbox,
) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "secrets")
        notes = Notes(app)
        assert "No secrets yet. Press n" in shown(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSecretScreen), "the dialog")
        dialog = app.screen
        hello = next(row for row in app.state.chutes.rows if row.name == "hello-world")
        await choose(pilot, dialog.query_one("#secret-chute", Select), hello.chute_id)
        await pilot.pause()
        assert dialog.query_one("#secret-key", Input).value == "HF_TOKEN"  # the first preset
        dialog.query_one("#secret-value", Input).focus()
        await type_text(pilot, VALUE)
        assert dialog.query_one("#secret-value", Input).password
        assert VALUE not in shown(app)  # masked while typed
        await pilot.press("enter")
        story = secrets_story(app, own_box, notes)
        await wait_for(
            pilot, lambda: tree_secrets(app) == [("hello-world", "HF_TOKEN")], "it", explain=story
        )
        assert VALUE not in shown(app)
        # a second one with a key of its own; the same key again is refused in words
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSecretScreen), "the dialog")
        assert app.screen.query_one("#secret-chute", Select).value == hello.chute_id
        await choose(pilot, app.screen.query_one("#secret-preset", Select), "")
        await pilot.pause()
        await type_text(pilot, "MY-KEY")
        assert "✗" in plain(app.screen.query_one("#secret-check", Static).content)
        app.screen.query_one("#secret-key", Input).value = "MY_KEY"
        app.screen.query_one("#secret-value", Input).focus()
        await type_text(pilot, "other")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(tree_secrets(app)) == 2, "the second", explain=story)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSecretScreen), "the dialog")
        await type_text(pilot, "again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes.any("has a secret"), "the refusal", explain=story)
        # delete, after a question that names it
        pane = app.screen.query_one(SecretsPane)
        pane.secrets_tree.focus()
        await wait_for(pilot, lambda: isinstance(pane.selected(), SecretRow), "a secret selected")
        selected = pane.selected()
        assert isinstance(selected, SecretRow)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        body = plain(app.screen.query_one("#dialog-body", Static).content)
        assert f"Delete secret {selected.key} of hello-world" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: len(tree_secrets(app)) == 1, "one secret left")
        assert not any(VALUE in message for _, message in notes.seen)
    assert VALUE.encode() not in everything_written(Path(os.environ["HOME"]))
    assert VALUE.encode() not in Path(own_box.db_path).read_bytes()
    assert [item["key"] for item in api(own_box, "/secrets/")] != []


async def test_x_on_a_chute_row_and_n_without_chutes(own_box: Sandbox) -> None:
    async with app_for(own_box, "alice").run_test(size=(120, 36)) as pilot:
        app = await open_tab(pilot, "secrets")
        notes = Notes(app)
        await pilot.press("n")
        assert notes.any("no chute to give a secret to")
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("x")
        assert notes.any("Move to a secret")


def test_no_screenshot_or_snapshot_shows_a_key() -> None:
    root = Path(__file__).resolve().parents[1]
    pictures = [*root.glob("screenshots/*.svg"), *root.glob("tests/snapshots/**/*.svg")]
    assert any("account-keys" in path.name for path in pictures)
    assert [path.name for path in pictures if "cpk_" in path.read_text()] == []
