"""Build parity: `chutes-tui --no-ui build` sends what the official `chutes build` sends.

Both run against the same capturing stand-in (tests/build_capture.py) from the same chute
directory: the multipart fields must have the same names, order and values (but the
pickled Image, which only has to describe the same image), the build context must be a
`chute.zip` with the same files and contents, and both bodies must be signed by hash.
"""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tests.build_capture import LOGO_ID, Capture, capture_server, sdk_config, zip_entries
from tests.conftest import chutes_command

pytestmark = pytest.mark.sdk

TIMEOUT = 60
APP = """from chutes.chute import Chute, NodeSelector
from chutes.image import Image

image = (
    Image(username="demo", name="parity-app", tag="0.1", readme="# parity image")
    .from_base("parachutes/python:3.12")
    .with_env("GREETING", "hello")
    .run_command("pip install --no-cache-dir numpy")
    .add("data", "/app/data")
    .add("extra.txt", "/app/extra.txt")
    .set_workdir("/app")
)
chute = Chute(
    username="demo",
    name="parity-app",
    image=image,
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    return text
"""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def chute_dir(root: Path) -> Path:
    """A chute with a context of twelve files (more than the SDK lists before asking)."""
    work = root / "work"
    (work / "data" / "nested").mkdir(parents=True)
    (work / "app.py").write_text(APP)
    (work / "extra.txt").write_text("extra\n")
    (work / "logo.png").write_bytes(PNG)
    for number in range(9):
        (work / "data" / f"part{number}.txt").write_text(f"part {number}\n" * (number + 1))
    (work / "data" / "nested" / "weights.bin").write_bytes(bytes(range(256)) * 8)
    (work / "data" / "Dockerfile").write_text("FROM scratch\n")  # zipped, not listed
    return work


def environment(root: Path, capture: Capture) -> dict[str, str]:
    config = root / "config.ini"
    config.write_text(sdk_config(capture.url))
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("CHUTES", "PYTEST_"))
    }
    env.update(CHUTES_CONFIG_PATH=str(config), HOME=str(root), NO_COLOR="1", COLUMNS="200")
    return env


def run(command: list[str], work: Path, env: dict[str, str], answers: str) -> str:
    done = subprocess.run(
        command,
        input=answers,
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=TIMEOUT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.mark.parametrize(
    "flags",
    [(), ("--include-cwd", "--public", "--logo", "logo.png")],
    ids=["default", "include-cwd-public-logo"],
)
def test_build_matches_the_official_cli(tmp_path: Path, flags: tuple[str, ...]) -> None:
    work = chute_dir(tmp_path)
    with capture_server() as capture:
        env = environment(tmp_path, capture)
        # The SDK asks whether to list the rest of the files, then whether to upload.
        official = run([*chutes_command(), "build", "app:chute", *flags], work, env, "n\ny\n")
        assert "Uploaded image package" in official, official
        ours = run(
            [sys.executable, "-m", "chutes_tui", "--no-ui", "build", "app:chute", "--yes", *flags],
            work,
            env,
            "",
        )
    assert "accepted for building" in ours, ours
    sdk_upload, our_upload = capture.uploads
    assert sdk_upload.path == our_upload.path == "/images/"

    assert our_upload.names == sdk_upload.names  # the same fields in the same order
    assert our_upload.names == [
        "username",
        "name",
        "tag",
        "readme",
        "dockerfile",
        "public",
        "logo_id",
        "wait",
        "image",
        "build_context",
    ]
    sdk_fields, our_fields = dict(sdk_upload.fields), dict(our_upload.fields)
    sdk_pickle, our_pickle = sdk_fields.pop("image"), our_fields.pop("image")
    assert our_fields == sdk_fields
    assert our_fields["public"] == ("True" if "--public" in flags else "False")
    assert our_fields["logo_id"] == (LOGO_ID if "--logo" in flags else "__none__")
    assert our_fields["dockerfile"].endswith("ADD . /app") == ("--include-cwd" in flags)
    images = [pickle.loads(base64.b64decode(text)) for text in (sdk_pickle, our_pickle)]
    assert str(images[0]) == str(images[1]) == our_fields["dockerfile"]
    assert images[0].uid == images[1].uid

    sdk_zip, our_zip = sdk_upload.file("build_context"), our_upload.file("build_context")
    assert (our_zip.filename, our_zip.content_type) == ("chute.zip", "application/zip")
    assert sdk_zip.filename == "chute.zip"
    sdk_files, our_files = zip_entries(sdk_zip.data), zip_entries(our_zip.data)
    assert list(our_files) == list(sdk_files)  # the same files, in the same order
    assert our_files == sdk_files  # the same contents
    assert "data/Dockerfile" in our_files and "data/nested/weights.bin" in our_files
    assert ("app.py" in our_files) == ("--include-cwd" in flags)

    for upload in (sdk_upload, our_upload):
        assert upload.headers["x-chutes-version"] == "0.6.9"
        assert upload.signed_over_body()
        assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    # Both looked for the image first; neither uploaded anything else but the logo.
    posts = [line for line in capture.requests if line.startswith("POST")]
    logos = 2 if "--logo" in flags else 0
    assert sorted(posts) == sorted(["POST /images/"] * 2 + ["POST /logos/"] * logos)
