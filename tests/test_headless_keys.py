"""`chutes-tui --no-ui keys …` and `secrets …` as subprocesses against a sandbox: round trips
with their exit codes; a key's secret printed once, on stdout only; a secret's value read
from stdin or a file, never from argv, and never printed, logged or written anywhere."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import subprocess
import termios
from pathlib import Path

import pytest

from chutes_tui.client.errors import ExitCode
from tests.conftest import Sandbox
from tests.test_headless import TIMEOUT, Cli, Run, command
from tests.test_import_hygiene import forbidden, run_importtime

KEY_RE = re.compile(r"cpk_[0-9a-f]{32}\.[0-9a-f]{32}\.[A-Za-z0-9]{32}")
VALUE = "hf_HeadlessValue_5f3a9c0d1e2b4a6f8091"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(sandbox: Sandbox, home: Path) -> Cli:
    return Cli(sandbox, home)


def fed(cli: Cli, stdin: str, *args: str, code: int = 0, **env: str) -> Run:
    """A command with `stdin` piped in (the Cli helper gives /dev/null)."""
    proc = subprocess.run(
        command(*args),
        env={**cli.env(), **env},
        cwd=cli.home,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    run = Run(args, proc.returncode, proc.stdout, proc.stderr)
    cli.check_hygiene(run)
    assert run.code == code, str(run)
    return run


def files_under(home: Path) -> bytes:
    return b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())


def using(cli: Cli, key: str, *args: str, code: int = 0) -> Run:
    env = cli.env(None, CHUTES_API_KEY=key, CHUTES_API_URL=cli.box.url)
    return cli(*args, code=code, user=None, env=env)


# keys


def test_keys_create_prints_the_secret_once_and_it_works(cli: Cli) -> None:
    run = cli("--debug", "keys", "create", "--name", "ci", "--admin", "--json")
    reply = run.json()  # stdout is one JSON document: `jq -r .secret_key` gets the key
    secret = reply["secret_key"]
    assert KEY_RE.fullmatch(secret) and reply["name"] == "ci" and reply["admin"] is True
    assert run.stdout.count(secret) == 1 and secret not in run.stderr
    assert "only time the key is shown" in run.stderr
    cli.secrets.add(secret)  # from here on, no other command may print it

    me = using(cli, secret, "me").json()
    assert me["username"] == "demo"
    listed = cli("--debug", "keys", "list").json()
    assert [key["name"] for key in listed] == ["sandbox", "ci"]
    table = cli("--debug", "keys", "list", "--output", "table", output="table")
    assert "admin (everything)" in table.stdout and "never" in table.stdout
    assert "(in use)" not in table.stdout  # the command signs with the hotkey
    assert not KEY_RE.search(table.stdout + table.stderr + json.dumps(listed))
    # nothing under HOME or the XDG directories holds it, the debug log included
    debug_logs = list(cli.home.rglob("debug.log"))
    assert debug_logs and "/api_keys/" in debug_logs[0].read_text()
    assert secret.encode() not in files_under(cli.home)


def test_keys_create_on_a_terminal_prints_only_the_key(cli: Cli) -> None:
    run = cli("keys", "create", "--name", "plain", "--admin", "--output", "table", output="table")
    assert KEY_RE.fullmatch(run.stdout.strip()) and run.stdout.count("\n") == 1
    assert "Created API key plain" in run.stderr and "Authorization: Bearer <key>" in run.stderr


def test_a_scoped_key_by_chute_name(cli: Cli) -> None:
    run = cli("keys", "create", "--name", "reader", "--scope", "chutes:read:hello-world")
    reply = run.json()
    hello = cli("chutes", "get", "hello-world").json()["chute_id"]
    assert [(s["object_type"], s["object_id"], s["action"]) for s in reply["scopes"]] == [
        ("chutes", hello, "read")
    ]
    assert "chutes:read:hello-world" in run.stderr
    cli.secrets.add(reply["secret_key"])
    assert using(cli, reply["secret_key"], "chutes", "get", hello).json()["name"] == "hello-world"
    refused = using(
        cli, reply["secret_key"], "chutes", "delete", hello, "--yes", code=ExitCode.AUTH
    )
    assert "Invalid token or user not found" in refused.stderr
    using(cli, reply["secret_key"], "keys", "list", code=ExitCode.AUTH)
    table = cli("keys", "list", "--output", "table", output="table")
    assert "chutes:read:hello-world" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--name", "x"), ExitCode.USAGE, "one of the arguments --admin --scope is required"),
        (("--name", "x", "--scope", "users:read"), ExitCode.USAGE, "object is one of"),
        (("--name", "x", "--scope", "chutes:fly"), ExitCode.USAGE, "action is one of"),
        (("--name", "sandbox", "--admin"), ExitCode.CONFLICT, "already exists with this name"),
        (("--name", "x" * 30, "--admin"), ExitCode.USAGE, "API key name should start"),
        (("--name", "x", "--scope", "chutes:read:no-such"), ExitCode.NOT_FOUND, "not found"),
    ],
    ids=["no access", "bad object", "bad action", "taken", "long name", "no chute"],
)
def test_keys_create_refusals(cli: Cli, args: tuple[str, ...], code: int, says: str) -> None:
    run = cli("keys", "create", *args, code=code)
    assert run.stdout == "" and says in run.stderr, str(run)


def test_keys_delete_confirms_and_ends_the_key(cli: Cli) -> None:
    secret = cli("keys", "create", "--name", "old", "--admin").json()["secret_key"]
    cli.secrets.add(secret)
    refused = cli.error("keys", "delete", "old", code=ExitCode.USAGE)
    assert "Delete API key old" in refused.stderr and "--yes" in refused.stderr
    using(cli, secret, "me")  # still works
    cli.error("keys", "delete", "nothing-here", "--yes", code=ExitCode.NOT_FOUND)
    reply = cli("keys", "delete", "old", "--yes").json()
    assert reply["deleted"] is True
    using(cli, secret, "me", code=ExitCode.AUTH)
    # a key deleting itself is told so, and done
    run = using(cli, cli.key("demo"), "keys", "delete", "sandbox", "--yes")
    assert run.json()["deleted"] is True
    using(cli, cli.key("demo"), "me", code=ExitCode.AUTH)


# secrets


def test_secret_create_from_stdin_list_and_delete(cli: Cli) -> None:
    cli.secrets.add(VALUE)
    run = fed(
        cli,
        VALUE + "\n",
        "--debug",
        "secrets",
        "create",
        "--chute",
        "hello-world",
        "--key",
        "HF_TOKEN",
    )
    created = run.json()
    hello = cli("chutes", "get", "hello-world").json()["chute_id"]
    assert (created["purpose"], created["key"]) == (hello, "HF_TOKEN") and "value" not in created
    assert "instances get $HF_TOKEN" in run.stderr
    stored = cli.box.query("SELECT value_sha256, secret_id FROM secrets")[0]
    from chutes_tui.sandbox.routes.secrets import value_digest

    assert stored["value_sha256"] == value_digest(stored["secret_id"], VALUE)  # newline dropped

    fed(
        cli,
        "other",
        "secrets",
        "create",
        "--chute",
        "hello-world",
        "--key",
        "HF_TOKEN",
        code=ExitCode.CONFLICT,
    )
    path = cli.home / "token.txt"
    path.write_text("file-value\n")
    fed(
        cli,
        "",
        "secrets",
        "create",
        "--chute",
        "llama-mini",
        "--key",
        "WANDB_API_KEY",
        "--value-file",
        str(path),
    )
    listed = cli("secrets", "list").json()
    assert sorted(item["key"] for item in listed) == ["HF_TOKEN", "WANDB_API_KEY"]
    only = cli("secrets", "list", "--chute", "hello-world").json()
    assert [item["key"] for item in only] == ["HF_TOKEN"]
    table = cli("secrets", "list", "--output", "table", output="table")
    assert re.search(r"hello-world\s+HF_TOKEN", table.stdout)
    assert "file-value" not in table.stdout + json.dumps(listed)

    cli.error(
        "secrets", "delete", "--chute", "hello-world", "--key", "HF_TOKEN", code=ExitCode.USAGE
    )
    gone = cli("secrets", "delete", "--chute", "hello-world", "--key", "HF_TOKEN", "--yes").json()
    assert gone["secret_id"] == created["secret_id"]
    cli(
        "secrets",
        "delete",
        listed[0]["secret_id"] if listed[0]["key"] != "HF_TOKEN" else listed[1]["secret_id"],
        "--yes",
    )
    assert cli("secrets", "list").json() == []
    cli.error("secrets", "delete", created["secret_id"], "--yes", code=ExitCode.NOT_FOUND)
    assert VALUE.encode() not in files_under(cli.home)
    assert VALUE.encode() not in Path(cli.box.db_path).read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ("--value", VALUE),
        (f"--value={VALUE}",),
        (VALUE,),
        (f"--val={VALUE}",),
        ("--value-fil", VALUE),
    ],
    ids=["--value", "--value=", "positional", "abbreviated", "misspelt"],
)
def test_a_value_on_the_command_line_is_refused_and_never_echoed(
    cli: Cli, args: tuple[str, ...]
) -> None:
    cli.secrets.add(VALUE)
    run = fed(
        cli,
        "",
        "secrets",
        "create",
        "--chute",
        "hello-world",
        "--key",
        "K",
        *args,
        code=ExitCode.USAGE,
    )
    assert run.stdout == ""
    assert cli.box.query("SELECT * FROM secrets") == []


@pytest.mark.parametrize(
    ("stdin", "args", "code", "says"),
    [
        ("", (), ExitCode.USAGE, "no value"),
        ("\n", (), ExitCode.USAGE, "no value"),
        ("v", ("--key", "HF-TOKEN"), ExitCode.USAGE, "environment variable"),
        ("v", ("--chute", "no-such-chute"), ExitCode.NOT_FOUND, "not found"),
        ("v", ("--value-file", "/nonexistent/" + VALUE), ExitCode.USAGE, "cannot read"),
    ],
    ids=["empty", "newline only", "bad key", "no chute", "no file"],
)
def test_secret_create_refusals(
    cli: Cli, stdin: str, args: tuple[str, ...], code: int, says: str
) -> None:
    cli.secrets.add(VALUE)
    base = {"--chute": "hello-world", "--key": "HF_TOKEN"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [part for pair in base.items() for part in pair]
    run = fed(cli, stdin, "secrets", "create", *flat, code=code)
    assert says in run.stderr and run.stdout == "", str(run)


def test_another_users_secrets_are_out_of_reach(cli: Cli) -> None:
    cli.secrets.add(VALUE)
    created = fed(
        cli, VALUE, "secrets", "create", "--chute", "hello-world", "--key", "HF_TOKEN"
    ).json()
    assert cli("secrets", "list", user="alice").json() == []
    cli.error(
        "secrets", "delete", created["secret_id"], "--yes", code=ExitCode.NOT_FOUND, user="alice"
    )
    fed(
        cli,
        "x",
        "secrets",
        "create",
        "--chute",
        "echo-stream",
        "--key",
        "K",
        code=ExitCode.NOT_FOUND,
        CHUTES_CONFIG_PATH=str(cli.box.users["alice"].config_path),
    )


def test_help_lists_the_commands_and_their_exit_codes(cli: Cli) -> None:
    text = cli("keys", "create", "--help", output="text").stdout
    assert "OBJECT:ACTION[:ID]" in text and " 5 conflict (409)" in text
    text = cli("secrets", "create", "--help", output="text").stdout
    assert "--value-file" in text and "--value " not in text and "exit codes:" in text


@pytest.mark.parametrize("listing", ["keys", "secrets"])
def test_listing_as_json_imports_no_models_no_server_and_no_ui(
    sandbox: Sandbox, listing: str
) -> None:
    modules, stdout = run_importtime(sandbox, listing, "list", "--json")
    assert isinstance(json.loads(stdout), list)
    assert forbidden(modules) == []


def test_on_a_terminal_the_value_is_asked_for_without_echo(cli: Cli) -> None:
    cli.secrets.add(VALUE)
    controller, terminal = os.openpty()

    def own_terminal() -> None:  # the pty becomes the command's terminal, as in a shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        command("secrets", "create", "--chute", "hello-world", "--key", "HF_TOKEN"),
        env=cli.env(),
        cwd=cli.home,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=own_terminal,
    )
    os.close(terminal)
    try:
        prompt = b""
        assert proc.stderr is not None
        while b"(not shown)" not in prompt:
            ready, _, _ = select.select([proc.stderr], [], [], TIMEOUT)
            assert ready, f"no prompt: {prompt!r}"
            prompt += os.read(proc.stderr.fileno(), 1024)
        os.write(controller, (VALUE + "\n").encode())
        stdout, rest = proc.communicate(timeout=TIMEOUT)
        echoed = b""
        while select.select([controller], [], [], 0.2)[0]:
            try:
                echoed += os.read(controller, 1024)
            except OSError:  # the command has gone and closed its end
                break
    finally:
        os.close(controller)
    run = Run(("secrets", "create"), proc.returncode, stdout.decode(), (prompt + rest).decode())
    cli.check_hygiene(run)
    assert run.code == 0, str(run)
    assert "Value of HF_TOKEN (not shown): " in run.stderr
    assert VALUE.encode() not in echoed
    assert json.loads(run.stdout)["key"] == "HF_TOKEN"
    stored = cli.box.query("SELECT value_sha256, secret_id FROM secrets")[0]
    from chutes_tui.sandbox.routes.secrets import value_digest

    assert stored["value_sha256"] == value_digest(stored["secret_id"], VALUE)
