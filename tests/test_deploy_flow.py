"""The deploy flow end to end: import in a child, pre-flight, fee, confirmation, deploy once.

Part one drives `plan_deploy`/`deploy` through the real client against a real sandbox with a
recording UI; part two runs `chutes-tui --no-ui deploy` as a subprocess and checks its exit
codes. The chute modules are in tests/chute_fixtures/.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import ChutesError, ExitCode, ValidationFailed
from chutes_tui.config import Connection, Credentials, resolve
from chutes_tui.core.chute_import import BadRef, ImportFailed, import_chute
from chutes_tui.core.deploy import (
    Declined,
    DeployBlocked,
    DeployOptions,
    DeployPlan,
    FeeNotAccepted,
    deploy,
    plan_deploy,
)
from tests.conftest import Sandbox
from tests.procs import alive, descendants, group_members, import_children, process_group, until

FIXTURES = Path(__file__).resolve().parent / "chute_fixtures"
PLAIN = "plain-fixture"
TIMEOUT = 60
HANG_GUARD = 60  # only catches a hang; nothing is timed


# --- helpers -------------------------------------------------------------------------------


@dataclass
class RecordingUI:
    """A DeployUI that records what it was told and answers confirm() with `answer`."""

    answer: bool = True
    wait_hint: str = "wait with the recorder"
    messages: list[str] = field(default_factory=list)
    confirmed: list[DeployPlan] = field(default_factory=list)
    fee_answer: bool = False
    fees_asked: list[float] = field(default_factory=list)

    def progress(self, message: str) -> None:
        self.messages.append(message)

    async def confirm(self, plan: DeployPlan) -> bool:
        self.confirmed.append(plan)
        return self.answer

    async def confirm_fee(self, plan: DeployPlan, amount: float) -> bool:
        self.fees_asked.append(amount)
        return self.fee_answer


def options(**changes: Any) -> DeployOptions:
    return DeployOptions(**{"directory": str(FIXTURES), "import_timeout": 30.0, **changes})


def chute_rows(box: Sandbox, name: str | None = None) -> list[dict]:
    if name is None:
        return box.query("SELECT chute_id, name, version FROM chutes ORDER BY chute_id")
    return box.query("SELECT chute_id, name, version, public FROM chutes WHERE name = ?", name)


def by_name(plan: DeployPlan) -> dict[str, Any]:
    return {check.name: check for check in plan.checks}


def failing(plan: DeployPlan) -> set[str]:
    return {check.name for check in plan.checks if not check.ok}


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[ChutesClient]:
    connection = Connection(
        base_url=sandbox.url, credentials=Credentials(api_key=sandbox.users["demo"].api_key)
    )
    async with ChutesClient(connection) as made:
        yield made


@pytest.fixture
async def shared_client(box: Sandbox) -> AsyncIterator[ChutesClient]:
    connection = Connection(
        base_url=box.url, credentials=Credentials(api_key=box.users["demo"].api_key)
    )
    async with ChutesClient(connection) as made:
        yield made


# --- the flow through the real client ------------------------------------------------------


async def test_plain_plan_fee_accept_decline_deploy_and_redeploy(
    sandbox: Sandbox, client: ChutesClient
) -> None:
    before = chute_rows(sandbox)
    ui = RecordingUI()
    plan = await plan_deploy(client, "plain:chute", options(), ui)

    assert [check.name for check in plan.checks] == [
        "reference",
        "image",
        "node selector",
        "fields",
        "balance",
    ]
    assert all(check.ok for check in plan.checks), plan.checks
    assert plan.ready and not plan.existing
    assert plan.name == PLAIN and plan.image == "demo/hello:0.1"
    assert plan.fee == pytest.approx(0.6)
    assert plan.hourly == pytest.approx((0.2, 1.8))
    assert "a4000" in plan.supported_gpus and "h100" not in plan.supported_gpus
    assert plan.body["public"] is False and plan.body["ref_str"] == "plain:chute"
    assert "plain.py" in by_name(plan)["reference"].detail
    summary = plan.summary()
    assert summary["fee_usd"] == 0.6 and summary["ready"] is True
    assert summary["hourly_usd"] == {"min": pytest.approx(0.2), "max": pytest.approx(1.8)}
    json.dumps(summary)  # serialisable, for --dry-run --json
    assert ui.messages, "progress was reported"

    # Fee not accepted: refused before asking, nothing sent.
    with pytest.raises(FeeNotAccepted) as refused:
        await deploy(client, plan, options(), ui)
    assert refused.value.exit_code == ExitCode.PAYMENT
    assert "$0.60" in str(refused.value) and "--accept-fee" in str(refused.value)
    assert ui.confirmed == []
    assert chute_rows(sandbox) == before

    # Fee accepted, the user says no: nothing sent.
    no = RecordingUI(answer=False)
    with pytest.raises(Declined) as declined:
        await deploy(client, plan, options(accept_fee=True), no)
    assert declined.value.exit_code == ExitCode.DECLINED
    assert no.confirmed == [plan]
    assert chute_rows(sandbox) == before

    # Yes: created once.
    yes = RecordingUI(answer=True)
    chute = await deploy(client, plan, options(accept_fee=True), yes)
    assert chute.name == PLAIN
    assert yes.confirmed == [plan]
    rows = chute_rows(sandbox, PLAIN)
    assert len(rows) == 1 and rows[0]["chute_id"] == chute.chute_id
    assert len(chute_rows(sandbox)) == len(before) + 1

    # The same code again: the version check blocks it with a conflict.
    again = await plan_deploy(client, "plain:chute", options(accept_fee=True), RecordingUI())
    assert again.existing
    assert failing(again) == {"version"}
    assert by_name(again)["version"].exit_code == ExitCode.CONFLICT
    assert again.fee == 0
    with pytest.raises(DeployBlocked) as blocked:
        await deploy(client, again, options(accept_fee=True), RecordingUI())
    assert blocked.value.exit_code == ExitCode.CONFLICT
    assert chute_rows(sandbox, PLAIN) == rows


async def test_changed_code_is_an_update_without_fee(
    sandbox: Sandbox, client: ChutesClient, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURES / "plain.py", work / "plain.py")
    first = await plan_deploy(client, "plain:chute", options(directory=str(work)))
    await deploy(client, first, options(accept_fee=True, directory=str(work)), RecordingUI())
    original = chute_rows(sandbox, PLAIN)
    assert len(original) == 1

    source = (work / "plain.py").read_text()
    (work / "plain.py").write_text(source.replace('f"plain, {text}"', 'f"plain v2, {text}"'))
    plan = await plan_deploy(client, "plain:chute", options(directory=str(work)))
    assert plan.existing and plan.ready
    assert by_name(plan)["update"].ok
    assert "version" not in by_name(plan)
    assert plan.fee == 0 and plan.summary()["update"] is True
    ui = RecordingUI()
    chute = await deploy(client, plan, options(directory=str(work)), ui)  # no accept_fee
    assert ui.confirmed == [plan]
    assert chute.chute_id == original[0]["chute_id"]
    updated = chute_rows(sandbox, PLAIN)
    assert len(updated) == 1 and updated[0]["version"] != original[0]["version"]


async def test_a_chute_with_only_a_job_plans_and_deploys(
    sandbox: Sandbox, client: ChutesClient
) -> None:
    plan = await plan_deploy(client, "with_jobs:chute", options())
    assert plan.ready, plan.checks
    assert plan.body["cords"] == []
    assert plan.body["jobs"] == [
        {
            "ports": [{"name": "web", "port": 8080, "proto": "http"}],
            "timeout": 600,
            "name": "crunch",
            "upload": False,
        }
    ]
    chute = await deploy(client, plan, options(accept_fee=True), RecordingUI())
    assert chute.name == "jobs-fixture"
    assert len(chute_rows(sandbox, "jobs-fixture")) == 1


BLOCKED = {
    "not_ready": ({"image"}, "building", {}),
    "broken_image": ({"image"}, "error", {}),
    "bad_selector": ({"node selector"}, "no GPU matches", {}),
    "vllm_no_revision": ({"revision"}, "revision", {}),
    "public_chute": ({"public"}, "may not deploy public", {"public": True}),
}


@pytest.mark.parametrize("module", list(BLOCKED))
async def test_blocked_by_preflight(box: Sandbox, shared_client: ChutesClient, module: str) -> None:
    names, words, extra = BLOCKED[module]
    before = chute_rows(box)
    plan = await plan_deploy(shared_client, f"{module}:chute", options(**extra))
    assert failing(plan) == names, plan.checks
    assert not plan.ready
    first = plan.blockers[0]
    assert words in first.detail and first.fix
    ui = RecordingUI()
    with pytest.raises(DeployBlocked) as blocked:
        await deploy(shared_client, plan, options(accept_fee=True, **extra), ui)
    assert blocked.value.exit_code == ExitCode.USAGE
    assert first.name in str(blocked.value)
    assert ui.confirmed == []
    assert chute_rows(box) == before
    if module == "bad_selector":
        assert plan.fee == 0 and plan.hourly is None and plan.supported_gpus == []
    if module == "public_chute":
        assert plan.body["public"] is True


async def test_the_fix_for_a_building_image_is_the_callers_way_to_wait(
    shared_client: ChutesClient,
) -> None:
    bare = await plan_deploy(shared_client, "not_ready:chute", options())
    assert by_name(bare)["image"].fix == "wait until it is built and pushed"
    told = await plan_deploy(shared_client, "not_ready:chute", options(), RecordingUI())
    assert by_name(told)["image"].fix == (
        "wait until it is built and pushed: wait with the recorder"
    )
    assert by_name(told)["image"].waitable


IMPORT_FAILURES = {
    "raises": ("RuntimeError", ["raises.py", "RuntimeError: fixture exploded on purpose"]),
    "exits": ("sys.exit(3)", []),
    "missing_package": (
        "surely_not_an_installed_package_xyz",
        ["missing_package.py", "ModuleNotFoundError"],
    ),
    "not_a_chute": ("not a Chute", []),
}


@pytest.mark.parametrize("module", list(IMPORT_FAILURES))
async def test_import_failures(box: Sandbox, shared_client: ChutesClient, module: str) -> None:
    words, tail = IMPORT_FAILURES[module]
    with pytest.raises(ImportFailed) as failed:
        await plan_deploy(shared_client, f"{module}:chute", options())
    error = failed.value
    assert error.exit_code == ExitCode.IMPORT_FAILED
    message = str(error)
    assert words in message and len(message.splitlines()) == 1, message
    assert "Traceback" not in message
    for piece in tail:
        assert piece in error.detail, error.detail
    assert len(error.detail) <= 2000


async def test_a_name_the_module_lacks_says_which_chutes_it_has() -> None:
    with pytest.raises(ImportFailed) as failed:
        await import_chute("plain:nochute", FIXTURES, timeout=60)
    assert str(failed.value).endswith("plain.py has no `nochute`; chutes in it: chute")
    assert "nothing" not in str(failed.value)


async def test_a_module_that_hangs_times_out() -> None:
    with pytest.raises(ImportFailed) as failed:
        await import_chute("hangs:chute", FIXTURES, timeout=2)
    assert "did not finish in 2 s" in str(failed.value)
    assert failed.value.exit_code == ExitCode.IMPORT_FAILED


async def started_import(folder: Path, timeout: float) -> tuple[asyncio.Task, int, list[int]]:
    """An import of a module that starts a helper and hangs; its child and all it started."""
    shutil.copy(FIXTURES / "spawns_and_hangs.py", folder / "spawns_and_hangs.py")
    task = asyncio.create_task(import_chute("spawns_and_hangs:chute", folder, timeout=timeout))

    def running() -> list[int]:
        children = import_children(folder)
        return [children[0], *descendants(children[0])] if children else []

    await until(lambda: len(running()) >= 2, "the import child and its helper")
    started = running()
    return task, started[0], started


async def test_cancelling_an_import_kills_the_child_and_its_group(tmp_path: Path) -> None:
    task, child, started = await started_import(tmp_path, timeout=600)
    assert process_group(child) == child  # the child leads a process group of its own
    assert set(started) <= set(group_members(child))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), HANG_GUARD)
    assert not alive(child)  # killed and waited for before the cancellation went on
    await until(lambda: not group_members(child), "the child's process group to end")
    assert not any(alive(pid) for pid in started)


async def test_a_timed_out_import_leaves_nothing_running(tmp_path: Path) -> None:
    task, child, started = await started_import(tmp_path, timeout=3)
    with pytest.raises(ImportFailed, match="did not finish in 3 s"):
        await asyncio.wait_for(task, HANG_GUARD)  # the helper holds the output pipe open
    await until(lambda: not group_members(child), "the child's process group to end")
    assert not any(alive(pid) for pid in started)


async def test_a_noisy_module_imports_and_its_noise_is_kept() -> None:
    imported = await import_chute("noisy:chute", FIXTURES, timeout=30)
    assert imported.body["name"] == "noisy-fixture"
    assert "NOISY-STDOUT-MARKER" in imported.output
    assert "NOISY-STDERR-MARKER" in imported.output
    assert "noise on stdout 199" in imported.output and "noise on stderr 0" in imported.output
    assert Path(imported.module_file).name == "noisy.py"


@pytest.mark.parametrize("ref", ["nope", "Mod:ch", "a:b", "plain:", ":chute", "plain.py:chute"])
async def test_bad_refs(ref: str) -> None:
    with pytest.raises(BadRef) as bad:
        await import_chute(ref, FIXTURES)
    assert bad.value.exit_code == ExitCode.USAGE


async def test_a_missing_module_file_is_an_import_failure() -> None:
    with pytest.raises(ImportFailed, match=r"no file absent_module\.py"):
        await import_chute("absent_module:chute", FIXTURES, timeout=30)


# --- headless exit codes -------------------------------------------------------------------


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"{self.args} -> {self.code}\nstdout: {self.stdout[:3000]}\nstderr: {self.stderr}"

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Headless:
    box: Sandbox
    home: Path

    def __call__(self, ref: str, *args: str, code: int | None) -> Run:
        """Run `deploy REF ARGS`; `code` None accepts any exit code."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CHUTES", "PYTEST_"))
            and key not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
        }
        env.update(HOME=str(self.home), COLUMNS="200", PYTHONIOENCODING="utf-8")
        argv = (
            "deploy",
            ref,
            "--dir",
            str(FIXTURES),
            "--api-url",
            self.box.url,
            "--api-key",
            self.box.users["demo"].api_key,
            *args,
        )
        done = subprocess.run(
            [sys.executable, "-m", "chutes_tui", "--no-ui", *argv],
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        run = Run((ref, *args), done.returncode, done.stdout, done.stderr)
        assert code is None or run.code == code, str(run)
        # Never a traceback of chutes-tui itself, never the key.
        for stream in (run.stdout, run.stderr):
            assert "chutes_tui/" not in stream and "chutes_tui\\" not in stream, str(run)
            assert self.box.users["demo"].api_key not in stream, str(run)
        return run


@pytest.fixture
def headless(sandbox: Sandbox, tmp_path: Path) -> Headless:
    return Headless(sandbox, tmp_path)


@pytest.fixture(scope="module")
def shared_headless(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Headless:
    return Headless(box, tmp_path_factory.mktemp("home"))


def test_headless_dry_run_fee_confirm_deploy_redeploy(headless: Headless) -> None:
    box = headless.box
    before = chute_rows(box)

    dry = headless("plain:chute", "--dry-run", "--json", code=0)
    plan = dry.json()
    assert plan["chute"] == PLAIN and plan["ready"] is True and plan["update"] is False
    assert plan["fee_usd"] == 0.6
    assert plan["hourly_usd"] == {"min": pytest.approx(0.2), "max": pytest.approx(1.8)}
    assert {check["name"] for check in plan["checks"]} >= {"image", "balance", "node selector"}
    assert chute_rows(box) == before

    no_fee = headless("plain:chute", code=ExitCode.PAYMENT)
    assert "$0.60" in no_fee.stderr and "--accept-fee" in no_fee.stderr
    assert no_fee.stdout == ""
    assert chute_rows(box) == before

    # (--accept-fee without --yes and without a terminal: test_headless_no_terminal_no_yes)
    done = headless("plain:chute", "--accept-fee", "--yes", code=0)
    chute = done.json()
    assert chute["name"] == PLAIN
    assert [row["chute_id"] for row in chute_rows(box, PLAIN)] == [chute["chute_id"]]

    again = headless("plain:chute", "--accept-fee", "--yes", code=ExitCode.CONFLICT)
    assert "version" in again.stderr and again.stdout == ""
    assert len(chute_rows(box, PLAIN)) == 1

    # --wait follows the warmup until hot (speed 100), and the module's noise stays off stdout.
    waited = headless("noisy:chute", "--accept-fee", "--yes", "--wait", "--timeout", "30", code=0)
    assert "NOISY" not in waited.stdout and "noise on" not in waited.stdout
    result = json.loads(waited.stdout)  # one document: the chute and how its warmup went
    assert result["name"] == "noisy-fixture"
    assert result["warmup"]["hot"] is True and result["warmup"]["chute"] == result["chute_id"]


def test_headless_no_terminal_no_yes(shared_headless: Headless) -> None:
    before = chute_rows(shared_headless.box)
    run = shared_headless("plain:chute", "--accept-fee", code=None)
    assert "--yes" in run.stderr and run.stdout == ""
    assert chute_rows(shared_headless.box) == before  # passes today: nothing is sent
    assert run.code == ExitCode.USAGE, str(run)  # fails today: 10


@pytest.mark.parametrize(
    ("ref", "words", "tail"),
    [
        ("raises:chute", "fixture exploded on purpose", "raises.py"),
        ("missing_package:chute", "surely_not_an_installed_package_xyz", "missing_package.py"),
        ("exits:chute", "sys.exit(3)", None),
    ],
)
def test_headless_import_failure(
    shared_headless: Headless, ref: str, words: str, tail: str | None
) -> None:
    run = shared_headless(ref, "--accept-fee", "--yes", code=ExitCode.IMPORT_FAILED)
    assert words in run.stderr and run.stdout == ""
    if tail:
        assert tail in run.stderr  # the module's own traceback tail
    assert run.stderr.rstrip().splitlines()[-1].startswith("chutes-tui: error: ")


def test_headless_bad_ref_and_blocked_image(shared_headless: Headless) -> None:
    before = chute_rows(shared_headless.box)
    for ref in ("nope", "a:b"):
        bad = shared_headless(ref, "--accept-fee", "--yes", code=ExitCode.USAGE)
        assert "invalid chute reference" in bad.stderr and bad.stdout == ""
    blocked = shared_headless("not_ready:chute", "--accept-fee", "--yes", code=ExitCode.USAGE)
    assert "image" in blocked.stderr and "building" in blocked.stderr
    assert "pass --wait-image S to wait" in blocked.stderr  # the headless way, not a key
    assert "press w" not in blocked.stderr and "w waits" not in blocked.stderr
    assert blocked.stdout == ""
    assert chute_rows(shared_headless.box) == before


def test_headless_waits_for_a_building_image(headless: Headless) -> None:
    box = headless.box
    timed_out = headless(
        "not_ready:chute", "--accept-fee", "--yes", "--wait-image", "1", code=ExitCode.TIMED_OUT
    )
    assert "still building" in timed_out.stderr
    assert chute_rows(box, "not-ready-fixture") == []


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def test_headless_deploy_uploads_the_logo(headless: Headless, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    blocked = headless(
        "plain:chute", "--accept-fee", "--yes", "--logo", str(not_image), code=ExitCode.USAGE
    )
    assert "not a PNG, JPEG, GIF or WebP image" in blocked.stderr
    done = headless("plain:chute", "--accept-fee", "--yes", "--logo", str(logo), code=0)
    logo_id = done.json()["logo_id"]
    assert done.json()["logo"].endswith(f"{logo_id}.webp")
    with headless.box.http() as http:
        served = http.get(f"/logos/{logo_id}.webp")
        assert served.status_code == 200 and served.content == PNG
        missing = http.get("/logos/00000000-0000-0000-0000-000000000000.webp")
        assert missing.status_code == 404


async def test_logo_upload_checks_the_content(sandbox: Sandbox, tmp_path: Path) -> None:
    text = tmp_path / "logo.txt"
    text.write_text("hello")
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    connection = Connection(
        base_url=sandbox.url, credentials=Credentials(api_key=sandbox.users["demo"].api_key)
    )
    async with ChutesClient(connection) as client:
        with pytest.raises(ValidationFailed, match="Uploaded logo is not an image!"):
            await client.upload_logo(text)
        with pytest.raises(ValidationFailed, match="Invalid image file"):
            await client.upload_logo(fake)


async def test_options_changed_after_the_plan_are_refused(
    box: Sandbox, shared_client: ChutesClient, tmp_path: Path
) -> None:
    before = chute_rows(box)
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    plan = await plan_deploy(shared_client, "plain:chute", options())
    assert plan.ready and plan.body["public"] is False
    for changed in ({"public": True}, {"logo": str(logo)}):
        ui = RecordingUI()
        with pytest.raises(ChutesError, match="plan again") as refused:
            await deploy(shared_client, plan, options(accept_fee=True, **changed), ui)
        assert refused.value.exit_code == ExitCode.USAGE
        assert ui.confirmed == []  # refused before asking
    assert chute_rows(box) == before


async def test_a_logo_that_cannot_be_read_is_a_clear_failure(
    box: Sandbox, shared_client: ChutesClient, tmp_path: Path
) -> None:
    before = chute_rows(box)
    missing = await plan_deploy(shared_client, "plain:chute", options(logo="absent.png"))
    assert failing(missing) == {"logo"}
    assert "cannot read" in by_name(missing)["logo"].detail
    assert by_name(missing)["logo"].fix  # says where the path is looked for
    # Read at the plan, gone by the deploy: an error with the reason, not an OSError.
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    plan = await plan_deploy(shared_client, "plain:chute", options(logo=str(logo)))
    assert plan.ready, plan.checks
    logo.unlink()
    with pytest.raises(ChutesError, match="cannot read the logo") as failed:
        await deploy(shared_client, plan, options(logo=str(logo), accept_fee=True), RecordingUI())
    assert failed.value.exit_code == ExitCode.USAGE
    assert "nothing was sent" in str(failed.value)
    assert chute_rows(box) == before


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real network, keeping each request as it went out."""

    def __init__(self) -> None:
        self.network = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.network.handle_async_request(request)

    async def aclose(self) -> None:
        await self.network.aclose()


async def test_logo_upload_escapes_the_file_name_and_signs_the_sent_bytes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    from substrateinterface import Keypair

    logo = tmp_path / 'my "best" logó.png'
    logo.write_bytes(PNG)
    connection = resolve(config_path=sandbox.users["demo"].config_path, env={})
    assert connection.credentials.hotkey and not connection.credentials.api_key
    wire = RecordingTransport()
    async with ChutesClient(connection, transport=wire) as client:
        logo_id = await client.upload_logo(logo)  # the sandbox refuses a bad signature

    [sent] = wire.sent
    body = sent.content
    assert 'filename="my %22best%22 logó.png"'.encode() in body
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    hotkey, nonce = sent.headers["X-Chutes-Hotkey"], sent.headers["X-Chutes-Nonce"]
    message = f"{hotkey}:{nonce}:{hashlib.sha256(body).hexdigest()}"
    signature = bytes.fromhex(sent.headers["X-Chutes-Signature"])
    assert Keypair(ss58_address=hotkey).verify(message.encode(), signature)
    stored = sandbox.query("SELECT content_type, data FROM logos WHERE logo_id = ?", logo_id)
    assert stored == [{"content_type": "image/png", "data": PNG}]


async def test_waiting_for_an_image_ends_when_its_build_does(sandbox: Sandbox) -> None:
    from chutes_tui.core.deploy import wait_for_image

    def finish_build() -> None:
        time.sleep(0.5)
        db = sqlite3.connect(sandbox.db_path)
        with db:
            db.execute("UPDATE images SET status = 'built and pushed' WHERE name = 'tts'")
        db.close()

    seen: list[str] = []

    class Recorder:
        def progress(self, message: str) -> None:
            seen.append(message)

    connection = Connection(
        base_url=sandbox.url, credentials=Credentials(api_key=sandbox.users["demo"].api_key)
    )
    builder = threading.Thread(target=finish_build)
    builder.start()
    try:
        async with ChutesClient(connection) as client:
            status = await wait_for_image(client, "demo/tts:0.2", 30, Recorder(), poll=0.1)
    finally:
        builder.join()
    assert status == "built and pushed"
    assert seen == ["image demo/tts:0.2: building", "image demo/tts:0.2: built and pushed"]
