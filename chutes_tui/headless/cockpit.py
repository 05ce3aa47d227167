"""`usage` (spend per chute per day, burn, runway, fees) and `invoke` (call a chute)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import (
    ExitCode,
    InvocationFailed,
    NotFound,
    ValidationFailed,
)
from chutes_tui.client.invoke import InvokeChunk, InvokeResult, is_slug
from chutes_tui.headless.output import Column, Output

USAGE_COLUMNS = (
    Column("DATE", lambda row: row["date"]),
    Column("CHUTE", lambda row: row["chute"], "bold"),
    Column("SPENT", lambda row: f"${row['usd_amount']:,.4f}"),
    Column("CALLS", lambda row: f"{row['invocation_count']:,}"),
)
CSV_FIELDS = ("date", "chute", "chute_id", "usd_amount", "invocation_count")


async def usage(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    from chutes_tui.core import spend

    if not 1 <= args.days <= spend.MAX_DAYS:
        out.error(f"--days must be between 1 and {spend.MAX_DAYS}")
        return ExitCode.USAGE
    report = await spend.load_spend(client, args.days, args.chute)
    summary = report.summary()
    rows = report.rows()
    if args.csv:
        writer = csv.DictWriter(out.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        out.stdout.flush()
    elif out.json:
        out.result({**summary, "rows": rows, "notes": list(report.notes)})
        return ExitCode.OK
    else:
        out.result(rows, USAGE_COLUMNS)
    fees = summary["deploy_fees_usd"]
    burn = summary["burn_usd_per_hour"]
    out.info(
        f"{summary['from']} to {summary['to']}: ${summary['total_usd']:,.4f} spent"
        + (f", of which ${fees:,.2f} deployment fees" if fees is not None else "")
        + f". Balance ${summary['balance_usd']:,.2f}, burning"
        + (f" ${burn:,.2f}/h now" if burn is not None else " an unknown amount now")
        + f": runway {summary['runway']}."
    )
    for note in report.notes:
        out.info(note)
    return ExitCode.OK


def read_data(data: str | None) -> Any:
    """`--data`: JSON text, `@file` or `-` (stdin); None when not given."""
    if data is None:
        return None
    if data == "-":
        text = sys.stdin.read()
    elif data.startswith("@"):
        try:
            text = Path(data[1:]).expanduser().read_text()
        except OSError as error:
            raise ValidationFailed(f"--data {data}: cannot read it: {error.strerror}") from None
    else:
        text = data
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValidationFailed(f"--data is not JSON: {error}") from None


async def _slug(client: ChutesClient, ref: str, method: str, path: str) -> str:
    """The slug of the chute to call, its cords checked first. A chute you cannot see may
    still be named by its slug: the platform then says whether you may call it."""
    try:
        chute = await client.get_chute(ref, raw=True)
    except NotFound:
        if is_slug(ref):
            return ref
        raise
    cords = chute.get("cords") or []
    matching = [
        cord
        for cord in cords
        if cord.get("public_api_path") == path
        and (cord.get("public_api_method") or "POST").upper() == method
    ]
    if cords and not matching:
        offered = ", ".join(
            f"{(cord.get('public_api_method') or 'POST').upper()} {cord.get('public_api_path')}"
            for cord in cords
            if cord.get("public_api_path")
        )
        raise NotFound(f"{chute['name']} has no cord for {method} {path} (it has: {offered})")
    return str(chute["slug"])


async def invoke(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    payload = read_data(args.data)
    method = args.method.upper()
    path = "/" + args.path.lstrip("/")
    slug = await _slug(client, args.chute, method, path)
    result: InvokeResult | None = None
    events = client.invoke_events(slug, path, payload, method=method, stream=args.stream)
    async with aclosing(events) as items:
        async for item in items:
            if isinstance(item, InvokeChunk):
                if out.json:
                    out.line({"chunk": item.text, "elapsed": round(item.elapsed, 4)})
                else:
                    out.text(item.text)
            else:
                result = item
    if result is None:
        raise InvocationFailed(f"{method} {path}: the call ended without a reply")
    summary = result.summary()
    if out.json:
        if result.streamed:
            summary.pop("chunks", None)
            out.line(summary)
        else:
            out.result(summary)
    elif not result.streamed:
        body = result.body
        out.text(body if isinstance(body, str) else json.dumps(body, indent=2))
    timing = f"HTTP {result.status} in {result.latency:.3f} s"
    if result.streamed:
        first = result.first_chunk
        timing += f", first chunk after {first:.3f} s" if first is not None else ", no chunks"
        timing += f", {len(result.chunks)} chunk{'s' if len(result.chunks) != 1 else ''}"
    if not out.json:
        out.info(f"{timing} ({result.url})")
    if result.error is not None:
        raise InvocationFailed(
            f"{method} {result.url}: the stream ended with an error: {result.error}"
        )
    return ExitCode.OK
