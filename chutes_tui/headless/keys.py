"""`keys list|create|delete` and `secrets list|create|delete`.

A new key's secret goes to stdout once and nowhere else (`--json`: the whole create reply).
A secret's value comes from stdin or a file, never from the command line, and goes to the
API in one request; nothing here prints it, logs it or keeps it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chutes_tui.client.api import ChutesClient, is_uuid
from chutes_tui.client.errors import ExitCode, NotFound
from chutes_tui.client.scopes import (
    SECRET_KEY_HINT,
    Scope,
    is_env_name,
    parse_scope,
    scopes_text,
)
from chutes_tui.headless.commands import _short, confirm
from chutes_tui.headless.output import Column, Output

KEY_COLUMNS = (
    Column("NAME", lambda row: row["name"] + (" (in use)" if row.get("_in_use") else ""), "bold"),
    Column("ID", lambda row: row["api_key_id"], "dim"),
    Column("ACCESS", lambda row: row["_access"], wrap=True),
    Column("CREATED", lambda row: _short(row.get("created_at"))),
    Column(
        "LAST USED", lambda row: _short(row["last_used_at"]) if row.get("last_used_at") else "never"
    ),
)
SECRET_COLUMNS = (
    Column("CHUTE", lambda row: row["_chute"], "bold"),
    Column("KEY", lambda row: row["key"]),
    Column("ID", lambda row: row["secret_id"], "dim"),
    Column("CREATED", lambda row: _short(row.get("created_at"))),
)
ONCE = "This is the only time the key is shown: store it now, the API cannot show it again."
NO_VALUE = "no value: pipe it on stdin, or name a file with --value-file"


async def _page(client: ChutesClient, lister: Any, args: argparse.Namespace) -> list[Any]:
    if args.all:
        items: list[Any] = await client.all_pages(lister, raw=True)
        return items
    page = await lister(page=args.page, limit=args.limit, raw=True)
    return list(page["items"])


async def _chute_names(client: ChutesClient) -> dict[str, str]:
    return {
        chute["chute_id"]: chute["name"]
        for chute in await client.all_pages(client.list_chutes, raw=True)
    }


def in_use(client: ChutesClient, api_key_id: str) -> bool:
    """Whether this is the key the client signs its requests with."""
    key = client.connection.credentials.api_key or ""
    return key.startswith(f"cpk_{api_key_id.replace('-', '')}.")


# keys


async def key_list(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    items = await _page(client, client.list_api_keys, args)
    if out.json:
        out.result(items)
        return ExitCode.OK
    ids = {s.get("object_id") for item in items for s in item.get("scopes") or []} - {None}
    names = await _chute_names(client) if ids else {}
    rows = [
        {
            **item,
            "_access": scopes_text(item, names),
            "_in_use": in_use(client, item["api_key_id"]),
        }
        for item in items
    ]
    out.info(f"{len(rows)} API keys; a key's secret is shown only when it is created")
    out.result(rows, KEY_COLUMNS)
    return ExitCode.OK


async def _resolve(client: ChutesClient, scope: Scope) -> Scope:
    """A scope naming a chute or image by name names it by id, as the API compares ids."""
    ref = scope.object_id
    if ref is None or is_uuid(ref) or scope.object_type not in ("chutes", "images"):
        return scope
    if scope.object_type == "chutes":
        object_id = await client.chute_id(ref)
    else:
        object_id = (await client.get_image(ref, raw=True))["image_id"]
    return Scope(scope.object_type, scope.action, object_id)


async def key_create(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    asked: list[Scope] = []
    for text in [] if args.admin else args.scope:
        try:
            asked.append(parse_scope(text))
        except ValueError as error:
            out.error(str(error))
            return ExitCode.USAGE
    scopes = [(await _resolve(client, scope)).wire() for scope in asked]
    created = await client.create_api_key(args.name, args.admin, scopes)
    if out.json:
        out.result(created)
    else:
        out.stdout.write(created.secret_key + "\n")
        out.stdout.flush()
    access = scopes_text({"admin": args.admin, "scopes": [scope.wire() for scope in asked]})
    out.info(f"Created API key {created.name} ({created.api_key_id}): {access}.")
    out.info(ONCE)
    out.info("Send it as the header `Authorization: Bearer <key>` (or set CHUTES_API_KEY).")
    return ExitCode.OK


async def _find_key(client: ChutesClient, ref: str) -> dict[str, Any]:
    items = await client.all_pages(client.list_api_keys, raw=True)
    for item in items:
        if ref in (item.get("api_key_id"), item.get("name")):
            return dict(item)
    raise NotFound(f"no API key with the id or name {ref}", 404)


async def key_delete(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    key = await _find_key(client, args.ref)
    own = (
        " It is the key this command is using: chutes-tui stops working with it too."
        if in_use(client, key["api_key_id"])
        else ""
    )
    question = (
        f"Delete API key {key['name']} ({key['api_key_id']})? Whatever uses it is refused"
        f" from now on.{own} This cannot be undone."
    )
    stop = confirm(question, args.yes, out)
    if stop is not None:
        return stop
    out.result(await client.delete_api_key(key["api_key_id"]))
    return ExitCode.OK


# secrets


async def secret_list(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    items = await _page(client, client.list_secrets, args)
    if args.chute:
        chute_id = await client.chute_id(args.chute)
        items = [item for item in items if item.get("purpose") == chute_id]
    if out.json:
        out.result(items)
        return ExitCode.OK
    names = await _chute_names(client)
    rows = sorted(
        (
            {**item, "_chute": names.get(item["purpose"]) or f"(no chute) {item['purpose']}"}
            for item in items
        ),
        key=lambda row: (row["_chute"].lower(), row["key"]),
    )
    out.info(f"{len(rows)} secrets; their values are never shown")
    out.result(rows, SECRET_COLUMNS)
    return ExitCode.OK


def read_value(args: argparse.Namespace, out: Output) -> str | None:
    """The value from --value-file, a hidden prompt on a terminal, or stdin; one trailing
    newline dropped. None (said on stderr) when there is none."""
    try:
        if args.value_file and args.value_file != "-":
            text = Path(args.value_file).read_text(encoding="utf-8")
        elif sys.stdin.isatty() and not args.value_file:
            import getpass

            text = getpass.getpass(f"Value of {args.key} (not shown): ", stream=sys.stderr)
        else:
            text = sys.stdin.read()
    except OSError as error:  # never the file name: it may be the value, given by mistake
        out.error(f"cannot read the value from --value-file: {error.strerror or 'unreadable'}")
        return None
    except UnicodeDecodeError:
        out.error("the value is not UTF-8 text")
        return None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        out.error(NO_VALUE)
        return None
    return text


async def secret_create(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    if not is_env_name(args.key):
        out.error(
            f"a secret's key becomes an environment variable of the chute's instances:"
            f" {SECRET_KEY_HINT}"
        )
        return ExitCode.USAGE
    chute = await client.get_chute(args.chute, raw=True)
    value = read_value(args, out)
    if value is None:
        return ExitCode.USAGE
    created = await client.create_secret(chute["chute_id"], args.key, value)
    del value
    out.info(
        f"Secret {created.key} created for {chute['name']}: its instances get ${created.key}"
        " when they start. Its value is never shown again."
    )
    out.result(created)
    return ExitCode.OK


async def secret_delete(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    if bool(args.secret) == bool(args.chute and args.key):
        out.error("name the secret by its id, or by --chute and --key")
        return ExitCode.USAGE
    items = await client.all_pages(client.list_secrets, raw=True)
    if args.secret:
        found = [item for item in items if item.get("secret_id") == args.secret]
        missing = f"no secret with the id {args.secret}"
    else:
        chute_id = await client.chute_id(args.chute)
        found = [
            item for item in items if (item.get("purpose"), item.get("key")) == (chute_id, args.key)
        ]
        missing = f"{args.chute} has no secret {args.key}"
    if not found:
        raise NotFound(missing, 404)
    secret = found[0]
    names = await _chute_names(client)
    chute = names.get(secret["purpose"], f"a deleted chute ({secret['purpose']})")
    question = (
        f"Delete secret {secret['key']} of {chute}? Instances that start from now on no longer"
        f" get ${secret['key']}. This cannot be undone."
    )
    stop = confirm(question, args.yes, out)
    if stop is not None:
        return stop
    out.result(await client.delete_secret(secret["secret_id"]))
    return ExitCode.OK


COMMANDS = {
    ("keys", "list"): key_list,
    ("keys", "create"): key_create,
    ("keys", "delete"): key_delete,
    ("secrets", "list"): secret_list,
    ("secrets", "create"): secret_create,
    ("secrets", "delete"): secret_delete,
}
