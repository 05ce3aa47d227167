"""Run every headless command against a Chutes API and say how each one fared.

    python scripts/conformance.py --api-url URL [--api-key KEY] [--config INI]
        [--write --share-with USER] [--prefix NAME] [--max-fee USD] [--json]

Reading commands run with each credential given (an API key, a config.ini with a hotkey).
With `--write`, a throw-away chute named `PREFIX-xxxxxx` is deployed (the fee is paid up to
`--max-fee`), warmed, shared and unshared with `--share-with`, given a secret and a key
scoped to reading it (both deleted again), and deleted; nothing else is written. A table
follows: the command, its exit code, the HTTP statuses the server answered (from the
request log), the time, and a verdict. A verdict is `ok`, `older server: …` for a
behaviour chutes-tui knows from older servers, or `FAIL`; the script exits 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK, AUTH, NOT_FOUND, CONFLICT, PAYMENT, TIMED_OUT, UNSUPPORTED = 0, 3, 4, 5, 6, 7, 12
CHUTE_COLD = 13
STATUS_RE = re.compile(r"\] (?:stream )?(GET|POST|PUT|PATCH|DELETE) \S+ (?:opened )?(\d{3}) ")
NO_SHARES = "older server: no shares listing"
NO_QUICK = "older server: no quick warmup status (read from the chute)"
HOTKEY_LOGS = "older server: instance logs need an API key"
SCOPED_KEY = "ok: a scoped API key may not read keys or secrets"
USAGE_KEY = "ok: the API gives your usage to API keys only"
CHUTE_FILE = '''"""A throw-away chute deployed by the conformance script, then deleted."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username={username!r},
    name={name!r},
    image={image!r},
    tagline="chutes-tui conformance check",
    readme="Deployed by scripts/conformance.py and deleted by it.",
    node_selector=NodeSelector(gpu_count=2, min_vram_gb_per_gpu=24),
    shutdown_after_seconds=300,
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text."""
    return text
'''


@dataclass
class Step:
    """One command, the exit codes that are right for it, and those an older server explains."""

    label: str
    args: list[str]
    expect: tuple[int, ...] = (OK,)
    known: dict[int, str] = field(default_factory=dict)  # other right codes, and why
    told: dict[str, str] = field(default_factory=dict)  # words on stderr, and what they show


@dataclass
class Outcome:
    credential: str
    command: str
    code: int | None
    statuses: str
    seconds: float
    verdict: str
    said: str


class Runner:
    """Runs `chutes-tui --no-ui` commands with one credential, reading its request log."""

    def __init__(self, args: argparse.Namespace, workdir: Path, credential: str) -> None:
        self.credential = credential
        self.workdir = workdir
        self.timeout = args.timeout
        self.auth = ["--api-url", args.api_url]
        if credential == "api key":
            self.auth += ["--api-key", args.api_key]
        else:
            self.auth += ["--config", str(args.config)]
        state = workdir / f"state-{credential.replace(' ', '-')}"
        self.log = state / "chutes-tui" / "debug.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CHUTES") and key not in ("NO_COLOR", "FORCE_COLOR")
        }
        self.env.update(
            CHUTES_TUI_DEBUG="1",
            XDG_STATE_HOME=str(state),
            XDG_CONFIG_HOME=str(workdir / "config"),
            PYTHONIOENCODING="utf-8",
            COLUMNS="200",
        )

    def run(self, step: Step) -> tuple[Outcome, str]:
        """Run one step; return how it fared and its stdout."""
        before = self.log.stat().st_size if self.log.exists() else 0
        argv = [sys.executable, "-m", "chutes_tui", "--no-ui", *step.args, *self.auth]
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
            code: int | None = done.returncode
            stdout, stderr = done.stdout, done.stderr
        except subprocess.TimeoutExpired:
            code, stdout, stderr = None, "", f"no exit within {self.timeout:g} s"
        seconds = time.monotonic() - started
        said = _last_line(stderr)
        verdict = _verdict(step, code, stderr)
        outcome = Outcome(
            self.credential, step.label, code, self._statuses(before), seconds, verdict, said
        )
        return outcome, stdout

    def _statuses(self, offset: int) -> str:
        """The HTTP statuses the server answered since `offset` in the request log."""
        if not self.log.exists():
            return ""
        with self.log.open(encoding="utf-8", errors="replace") as file:
            file.seek(offset)
            found = [match.group(2) for match in map(STATUS_RE.search, file) if match]
        return _squeeze(found)


def _squeeze(statuses: list[str]) -> str:
    """`200 200 200 402 200` as `200x3 402 200`."""
    parts: list[str] = []
    for status in statuses:
        if parts and parts[-1].split("x")[0] == status:
            head, _, count = parts[-1].partition("x")
            parts[-1] = f"{head}x{int(count or 1) + 1}"
        else:
            parts.append(status)
    return " ".join(parts)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def _verdict(step: Step, code: int | None, stderr: str) -> str:
    if code is None:
        return "FAIL: hung"
    if "Traceback" in stderr:
        return "FAIL: traceback"
    if code in step.expect:
        return next((why for words, why in step.told.items() if words in stderr), "ok")
    if code in step.known:
        return step.known[code]
    wanted = " or ".join(str(value) for value in step.expect)
    return f"FAIL: expected {wanted}"


def _json(stdout: str) -> object:
    try:
        return json.loads(stdout)
    except ValueError:
        return None


def reading_steps(chute: str | None, image: str | None) -> list[Step]:
    """Commands that read: safe against any account."""
    steps = [
        Step("me", ["me", "--json"]),
        Step("pricing", ["pricing", "--json"]),
        Step("images list", ["images", "list", "--json"]),
        Step("chutes list", ["chutes", "list", "--json"]),
        Step(
            "shares list",
            ["shares", "list", "--json"],
            known={UNSUPPORTED: NO_SHARES, AUTH: "ok: the API lists shares for API keys only"},
        ),
        Step("keys list", ["keys", "list", "--json"], known={AUTH: SCOPED_KEY}),
        Step("secrets list", ["secrets", "list", "--json"], known={AUTH: SCOPED_KEY}),
        Step("usage", ["usage", "--days", "2", "--json"], known={AUTH: USAGE_KEY}),
    ]
    if image:
        steps.append(Step("images get", ["images", "get", image, "--json"]))
        steps.append(Step("images logs", ["images", "logs", image, "--json"]))
    if chute:
        steps += [
            Step("chutes get", ["chutes", "get", chute, "--json"]),
            Step("code", ["code", chute, "--json"]),
            Step(
                "logs",
                ["logs", chute, "--backfill", "5", "--json"],
                known={AUTH: HOTKEY_LOGS},
            ),
        ]
    steps.append(Step("chutes get (missing)", ["chutes", "get", "no-such-chute-x"], (NOT_FOUND,)))
    return steps


def writing_steps(
    name: str,
    module_dir: Path,
    max_fee: float,
    share_with: str | None,
    warmup_timeout: float = 15.0,
) -> list[Step]:
    """Deploy a throw-away chute, use it, delete it."""
    deploy = ["deploy", f"{name.replace('-', '_')}:chute", "--dir", str(module_dir)]
    steps = [
        Step("deploy --dry-run", [*deploy, "--dry-run", "--json"]),
        Step("deploy", [*deploy, "--yes", "--accept-fee", "--max-fee", f"{max_fee}", "--json"]),
        Step("deploy (identical again)", [*deploy, "--yes", "--accept-fee", "--json"], (CONFLICT,)),
        Step("chutes get (new)", ["chutes", "get", name, "--json"]),
        Step("code (new)", ["code", name, "--json"]),
        Step("warmup (new)", ["warmup", name, "--json"], told={"no quick warmup": NO_QUICK}),
        Step(
            "warmup --wait (new)",
            ["warmup", name, "--wait", "--timeout", f"{warmup_timeout:g}", "--json"],
            (OK, TIMED_OUT),  # a platform without free GPUs leaves it cold
        ),
        Step("logs (new)", ["logs", name, "--backfill", "5", "--json"], known={AUTH: HOTKEY_LOGS}),
        Step(
            "invoke (new)",
            ["invoke", name, "/echo", "--data", '{"text": "conformance"}', "--json"],
            (OK, CHUTE_COLD),  # cold when the warmup above timed out
        ),
    ]
    if share_with:
        steps += [
            Step("share (new)", ["share", name, share_with, "--json"]),
            Step(
                "shares list (new)",
                ["shares", "list", "--chute", name, "--json"],
                known={UNSUPPORTED: NO_SHARES},
            ),
            Step("unshare (new)", ["share", name, share_with, "--remove", "--json"]),
        ]
    value_file = module_dir / f"{name}.value"
    value_file.write_text(secrets.token_hex(16))
    steps += [
        Step(
            "secrets create (new)",
            [
                "secrets",
                "create",
                "--chute",
                name,
                "--key",
                "CONFORMANCE",
                "--value-file",
                str(value_file),
                "--json",
            ],
        ),
        Step("secrets list (new)", ["secrets", "list", "--chute", name, "--json"]),
        Step(
            "secrets delete (new)",
            ["secrets", "delete", "--chute", name, "--key", "CONFORMANCE", "--yes", "--json"],
        ),
        Step(
            "keys create (new)",
            ["keys", "create", "--name", name[-24:], "--scope", f"chutes:read:{name}", "--json"],
        ),
        Step("keys delete (new)", ["keys", "delete", name[-24:], "--yes", "--json"]),
        Step("chutes delete (new)", ["chutes", "delete", name, "--yes", "--json"]),
        Step("chutes get (deleted)", ["chutes", "get", name, "--json"], (NOT_FOUND,)),
    ]
    return steps


def pick(stdout: str, own: str | None, wanted: str | None, built: bool = False) -> str | None:
    """A chute or image to read: the one asked for, else the first of the user's own."""
    if wanted:
        return wanted
    items = _json(stdout)
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, dict) or (own and item.get("user", {}).get("user_id") != own):
            continue
        if built and item.get("status") != "built and pushed":
            continue
        return str(item.get("chute_id") or item.get("image_id") or "") or None
    return None


def run_all(args: argparse.Namespace) -> list[Outcome]:
    credentials = (["api key"] if args.api_key else []) + (["hotkey"] if args.config else [])
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="chutes-tui-conformance-") as tmp:
        workdir = Path(tmp)
        for credential in credentials:
            runner = Runner(args, workdir, credential)
            me, me_out = runner.run(Step("me", ["me", "--json"]))
            account = _json(me_out) if me.code == OK else None
            user_id = account.get("user_id") if isinstance(account, dict) else None
            _, images = runner.run(Step("images", ["images", "list", "--json"]))
            _, chutes = runner.run(Step("chutes", ["chutes", "list", "--json"]))
            image = pick(images, user_id, args.image, built=True)
            chute = pick(chutes, user_id, args.chute)
            for step in reading_steps(chute, image):
                outcomes.append(runner.run(step)[0])
            if not args.write or credential != credentials[0]:
                continue
            username = account.get("username") if isinstance(account, dict) else None
            image_ref = _image_ref(images, image) if image else None
            if not username or not image_ref:
                outcomes.append(Outcome(credential, "deploy", None, "", 0, "FAIL: no image", ""))
                continue
            estimate: float | None = None
            name = f"{args.prefix}-{secrets.token_hex(3)}"
            module = workdir / f"{name.replace('-', '_')}.py"
            module.write_text(CHUTE_FILE.format(username=username, name=name, image=image_ref))
            steps = writing_steps(name, workdir, args.max_fee, args.share_with, args.warmup_timeout)
            for step in steps:
                balance = _balance(runner) if step.label == "deploy" else None
                outcome, stdout = runner.run(step)
                outcomes.append(outcome)
                if step.label == "deploy --dry-run":
                    estimate = _field(stdout, "fee_usd")
                if step.label == "deploy" and balance is not None:
                    after = _balance(runner)
                    charged = _field(stdout, "fee_charged")
                    moved = None if after is None else balance - after
                    outcome.verdict += _fee_note(estimate, charged, moved)
    return outcomes


def _balance(runner: Runner) -> float | None:
    return _field(runner.run(Step("me", ["me", "--json"]))[1], "balance")


def _field(stdout: str, key: str) -> float | None:
    data = _json(stdout)
    value = data.get(key) if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _fee_note(estimate: float | None, charged: float | None, moved: float | None) -> str:
    """What was estimated, what the deploy says it charged, and what the balance lost so far.

    The platform may deduct a fee from the balance later (its usage tracker does), so a
    balance that has not moved yet is a fact to report, not a failure.
    """

    def usd(value: float | None) -> str:
        return "?" if value is None else f"${value:,.2f}"

    return f" (estimate {usd(estimate)}, charged {usd(charged)}, balance moved {usd(moved)} so far)"


def _image_ref(stdout: str, image_id: str) -> str | None:
    """`user/name:tag` of an image, as a chute file names it."""
    for item in _json(stdout) or []:
        if isinstance(item, dict) and item.get("image_id") == image_id:
            owner = item.get("user", {}).get("username")
            return f"{owner}/{item['name']}:{item['tag']}" if owner else None
    return None


def print_table(outcomes: Iterable[Outcome]) -> None:
    rows = [
        (
            o.credential,
            o.command,
            "-" if o.code is None else str(o.code),
            o.statuses,
            f"{o.seconds:.2f}",
            o.verdict,
        )
        for o in outcomes
    ]
    header = ("credential", "command", "exit", "server", "seconds", "verdict")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True, help="the API to check")
    parser.add_argument("--api-key", default=os.environ.get("CHUTES_API_KEY"), help="an API key")
    parser.add_argument("--config", type=Path, help="an SDK config.ini (hotkey)")
    parser.add_argument("--chute", help="a chute to read (default: your first)")
    parser.add_argument("--image", help="an image to read and deploy on (default: your first)")
    parser.add_argument("--write", action="store_true", help="deploy, share and delete a chute")
    parser.add_argument("--prefix", default="ctui-conformance", help="name of the chute written")
    parser.add_argument("--share-with", metavar="USER", help="share the chute with this user")
    parser.add_argument("--max-fee", type=float, default=5.0, help="largest fee to pay (USD)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per command")
    parser.add_argument(
        "--warmup-timeout", type=float, default=15.0, help="seconds warmup --wait may take"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per command")
    args = parser.parse_args(argv)
    if not args.api_key and not args.config:
        parser.error("give --api-key (or CHUTES_API_KEY) and/or --config")
    started = time.monotonic()
    outcomes = run_all(args)
    if args.json:
        for outcome in outcomes:
            print(json.dumps(asdict(outcome)))
    else:
        print_table(outcomes)
        failed = sum(o.verdict.startswith("FAIL") for o in outcomes)
        older = sum(o.verdict.startswith("older") for o in outcomes)
        print(
            f"\n{len(outcomes)} commands in {time.monotonic() - started:.1f} s:"
            f" {failed} failed, {older} older-server behaviours"
        )
        for outcome in outcomes:
            if outcome.verdict.startswith("FAIL"):
                print(f"  {outcome.command}: {outcome.said}")
    return 1 if any(o.verdict.startswith("FAIL") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
