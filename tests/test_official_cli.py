"""The official `chutes` CLI (SDK 0.6.9), run as a subprocess against a real sandbox.

Each invocation costs about a second of SDK import time, so the read-only commands (and the
deploys that must not write anything) run concurrently in one module-scoped batch, and the
write lifecycle (deploy, re-deploy, share, unshare, delete) runs once, in order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from chutes_tui.client.models import NodeSelector
from chutes_tui.core.pricing import GpuTable, deployment_fee
from chutes_tui.sandbox.lookup import chute_uid, image_uid
from tests.conftest import Sandbox, chutes_command, running_sandbox

pytestmark = pytest.mark.sdk

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIMEOUT = 60
NOT_READY_MODULE = """from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="tts-example",
    image="demo/tts:0.2",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/speak", public_api_method="POST")
async def speak(self, text: str) -> str:
    return text
"""


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams without colour codes: loguru writes to stderr, deploy to stdout."""
        return ANSI.sub("", self.stdout + "\n" + self.stderr)


@dataclass
class Cli:
    command: list[str]
    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, answer: str = "y") -> Run:
        done = subprocess.run(
            [*self.command, *args],
            input=answer + "\n",
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=self.env,
            timeout=TIMEOUT,
        )
        return Run(args, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    # Speed 1: a deployed chute's instance stays alive (and unbilled) for the whole module,
    # so the delete cascade has instances to remove and the balance moves only by the fee.
    with running_sandbox(tmp_path_factory.mktemp("cli-sandbox"), speed=1.0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def cli(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    workdir = tmp_path_factory.mktemp("examples")
    for name in ("hello.py", "llm.py"):
        shutil.copy(EXAMPLES / name, workdir / name)
    (workdir / "tts.py").write_text(NOT_READY_MODULE)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHUTES_", "PYTEST_"))
    }
    env.update(
        CHUTES_CONFIG_PATH=str(box.users["demo"].config_path),
        COLUMNS="250",
        NO_COLOR="1",
        PYTHONIOENCODING="utf-8",
    )
    return Cli(chutes_command(), workdir, env)


def balance(box: Sandbox, username: str = "demo") -> float:
    return box.query("SELECT balance FROM users WHERE username = ?", username)[0]["balance"]


def demo_id(box: Sandbox) -> str:
    return box.users["demo"].creds.user_id


@pytest.fixture(scope="module")
def early(box: Sandbox, cli: Cli) -> dict:
    """Commands that must not change the database, run concurrently on the seeded state."""
    commands = {
        "chutes list": ("chutes", "list"),
        "images list": ("images", "list"),
        "images get": ("images", "get", "demo/hello:0.1"),
        "chutes get": ("chutes", "get", "hello-world"),
        "deploy no fee": ("deploy", "hello:chute"),
        "deploy not ready": ("deploy", "tts:chute", "--accept-fee"),
    }
    before = {"balance": balance(box), "chutes": box.query("SELECT COUNT(*) AS n FROM chutes")}
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {key: pool.submit(cli, *args) for key, args in commands.items()}
        runs = {key: future.result() for key, future in futures.items()}
    after = {
        "balance": balance(box),
        "chutes": box.query("SELECT COUNT(*) AS n FROM chutes"),
        "names": {row["name"] for row in box.query("SELECT name FROM chutes")},
        "history": box.query("SELECT COUNT(*) AS n FROM chute_history")[0]["n"],
    }
    return {"runs": runs, "before": before, "after": after}


def test_chutes_list_prints_count_and_table(early: dict) -> None:
    run = early["runs"]["chutes list"]
    assert run.returncode == 0, run.output
    assert "Found 3 matching chutes, displaying 3" in run.output
    assert "Listing chutes" in run.output
    for name in ("hello-world", "echo-stream", "llama-mini"):
        assert name in run.stdout
        assert chute_uid("demo", name) in run.stdout
    assert re.search(r"hello-world\s*│\s*hot\s*│", run.stdout), run.stdout
    assert re.search(r"llama-mini\s*│\s*cold\s*│", run.stdout), run.stdout
    assert "stream=True" in run.stdout and "POST /echo" in run.stdout


def test_images_list_shows_every_own_image_with_status(early: dict) -> None:
    run = early["runs"]["images list"]
    assert run.returncode == 0, run.output
    assert "Found 4 matching images, displaying 4" in run.output
    assert "Listing images" in run.output
    for name, tag, status in (
        ("hello", "0.1", "built and pushed"),
        ("tts", "0.2", "building"),
        ("broken", "0.1", "error:"),
        ("next", "0.3", "pending build"),
    ):
        assert image_uid("demo", name, tag) in run.stdout
        assert re.search(rf"│ {name}\s*│ {re.escape(tag)}\s*│ {status}", run.stdout), run.stdout
    assert "vllm" not in run.stdout  # public images only with --include-public


def test_images_get_prints_the_image_id(early: dict) -> None:
    run = early["runs"]["images get"]
    image_id = image_uid("demo", "hello", "0.1")
    assert run.returncode == 0, run.output
    assert f"image {image_id}:" in run.output
    image = json.loads(run.stdout)
    assert image["image_id"] == image_id
    assert (image["name"], image["tag"], image["status"]) == ("hello", "0.1", "built and pushed")


def test_chutes_get_prints_the_chute(early: dict) -> None:
    run = early["runs"]["chutes get"]
    chute_id = chute_uid("demo", "hello-world")
    assert run.returncode == 0, run.output
    assert f"chute {chute_id}:" in run.output
    chute = json.loads(run.stdout)
    assert chute["chute_id"] == chute_id
    assert chute["name"] == "hello-world"
    assert chute["hot"] is True
    assert [cord["function"] for cord in chute["cords"]] == ["echo"]


def test_deploy_without_accept_fee_prints_the_notice_and_writes_nothing(
    early: dict, cli: Cli
) -> None:
    run = early["runs"]["deploy no fee"]
    hello = cli.cwd / "hello.py"
    assert f"You are about to upload {hello} and deploy hello-example, confirm? (y/n)" in (
        run.output
    )
    fee = deployment_fee(NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16), GpuTable.load())
    assert "DEPLOYMENT FEE NOTICE:" in run.output
    assert f"which for this configuration is: ${round(fee, 2)}\n" in run.output
    assert "re-run the deployment command with `--accept-fee`" in run.output
    assert "Successfully deployed" not in run.output
    assert "hello-example" not in early["after"]["names"]
    assert early["after"]["chutes"] == early["before"]["chutes"]
    assert early["after"]["balance"] == early["before"]["balance"]
    assert early["after"]["history"] == 0


def test_deploy_of_an_image_still_building_stops_in_the_cli(early: dict) -> None:
    run = early["runs"]["deploy not ready"]
    assert "Image 'demo/tts:0.2' is not available to be used (yet)!" in run.output
    assert run.returncode != 0
    assert "You are about to upload" not in run.output  # refused before the prompt
    assert "tts-example" not in early["after"]["names"]


def test_deploy_share_unshare_delete_lifecycle(box: Sandbox, early: dict, cli: Cli) -> None:
    """The write path end to end, in the order a user would go through it."""
    hello_code = (EXAMPLES / "hello.py").read_text()
    fee = deployment_fee(NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16), GpuTable.load())
    chute_id = chute_uid("demo", "hello-example")
    start_balance = balance(box)

    # Deploy with --accept-fee, confirming the prompt.
    run = cli("deploy", "hello:chute", "--accept-fee")
    assert "confirm? (y/n)" in run.output
    match = re.search(
        r"Successfully deployed chute hello-example chute_id='([0-9a-f-]+)' version=([0-9a-f-]+)"
        r" invocations will be available soon!",
        run.output,
    )
    assert match, run.output
    assert match.group(1) == chute_id
    rows = box.query("SELECT * FROM chutes WHERE name = 'hello-example'")
    assert len(rows) == 1
    row = rows[0]
    assert (row["chute_id"], row["user_id"], row["version"]) == (
        chute_id,
        demo_id(box),
        match.group(2),
    )
    assert row["code"] == hello_code
    assert row["image_id"] == image_uid("demo", "hello", "0.1")
    assert row["public"] == 0
    assert row["spec"]["filename"] == "hello.py"
    assert row["spec"]["ref_str"] == "hello:chute"
    assert row["spec"]["tagline"] == "Echoes what you send it"
    assert balance(box) == pytest.approx(start_balance - fee)
    assert box.query("SELECT * FROM instances WHERE chute_id = ?", chute_id)

    # The same code again: 409, nothing changes and no second fee.
    run = cli("deploy", "hello:chute", "--accept-fee")
    assert (
        f"Chute with name=hello-example, version='{row['version']}' and public=False"
        " already exists" in run.output
    )
    assert "Successfully deployed" not in run.output
    assert box.query("SELECT COUNT(*) AS n FROM chutes WHERE name = 'hello-example'") == [{"n": 1}]
    assert balance(box) == pytest.approx(start_balance - fee)

    # Share by name with bob; alice gets a share through the API so one survives the unshare.
    bob_id = box.users["bob"].creds.user_id
    alice_id = box.users["alice"].creds.user_id
    run = cli("share", "--chute-id", "hello-example", "--user-id", "bob")
    assert "Successfully shared chute.name='hello-example' with user.username='bob'" in (run.output)
    share = box.query("SELECT * FROM shares WHERE chute_id = ? AND shared_to = ?", chute_id, bob_id)
    assert len(share) == 1 and share[0]["shared_by"] == demo_id(box)
    with box.http() as http:
        reply = http.post(
            "/chutes/share",
            json={"chute_id_or_name": chute_id, "user_id_or_name": "alice"},
            headers=box.users["demo"].key_headers(),
        )
        assert reply.status_code == 200, reply.text

    run = cli("share", "--chute-id", "hello-example", "--user-id", "bob", "--remove")
    assert (
        "Successfully unshared chute.name='hello-example' with user.username='bob'"
        " (if share exists)" in run.output
    )
    shared_to = {
        r["shared_to"] for r in box.query("SELECT * FROM shares WHERE chute_id = ?", chute_id)
    }
    assert shared_to == {alice_id}

    run = cli("share", "--chute-id", "hello-example", "--user-id", "nobody-at-all")
    assert "{'detail': 'Could not find target user to share with'}" in run.output
    assert "Successfully" not in run.output

    # Delete by UUID: "n" cancels, "y" deletes the chute with its instances and shares.
    run = cli("chutes", "delete", chute_id, answer="n")
    assert f"Are you sure you want to delete chutes/{chute_id}?" in run.output
    assert "Successfully deleted" not in run.output
    assert box.query("SELECT chute_id FROM chutes WHERE chute_id = ?", chute_id)
    assert box.query("SELECT * FROM instances WHERE chute_id = ?", chute_id)

    run = cli("chutes", "delete", chute_id, answer="y")
    assert f"Successfully deleted chute {chute_id}" in run.output
    assert not box.query("SELECT chute_id FROM chutes WHERE chute_id = ?", chute_id)
    assert not box.query("SELECT * FROM instances WHERE chute_id = ?", chute_id)
    assert not box.query("SELECT * FROM shares WHERE chute_id = ?", chute_id)
    assert box.query("SELECT chute_id FROM chutes WHERE name = 'hello-world'")
