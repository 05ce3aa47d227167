"""Image builds in the sandbox: `POST /images/` as `chutes build` 0.6.9 sends it, the
simulated build on the sandbox's clock, its log stream, and the official CLI end to end.

Every sandbox here starts with its clock paused; a build moves only when a test advances
the clock, so what a test sees never depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import pickle
import shlex
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.builds import LOST, QUEUE_SECONDS
from chutes_tui.sandbox.commands import config_text
from chutes_tui.sandbox.lookup import image_uid
from chutes_tui.sandbox.routes.build import PUBLIC_REFUSAL
from chutes_tui.sandbox.seed import credentials
from chutes_tui.sandbox.storage import Store
from tests.conftest import (
    Sandbox,
    SandboxUser,
    chutes_command,
    deploy_body,
    running_sandbox,
    start_sandbox,
)
from tests.simclock import HANG_GUARD, wait_simulated
from tests.test_official_cli import ANSI, Cli, Run

DOCKERFILE = (
    "FROM parachutes/python:3.12\n"
    "RUN pip install --no-cache numpy==2.2.6 requests\n"
    "ADD app.py /app/app.py"
)
CONTEXT = {"app.py": "print('hello')\n"}
END = 10_000_000.0  # simulated seconds: more than any build here takes
STANDARD = ("vllm:nightly-2025111700", "sglang:nightly-2025111800", "diffusion:0.34.0.po")
DEVELOPER_401 = "You do not have developer permissions"


# helpers


class _Body:
    """Collects what aiohttp writes, as the SDK's FakeStreamWriter does."""

    def __init__(self) -> None:
        self.output = io.BytesIO()

    async def write(self, chunk: bytes) -> None:
        self.output.write(chunk)

    async def drain(self) -> None:
        pass

    async def write_eof(self) -> None:
        pass


def zip_of(files: dict[str, str | bytes], **kinds: zipfile.ZipInfo) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(kinds.get(name, name), data)
    return buffer.getvalue()


def fields(username: str = "demo", **changes: str) -> dict[str, str]:
    """The form fields of `chutes build`, in its order (the pickle is a harmless one)."""
    form = {
        "username": username,
        "name": "built",
        "tag": "0.1",
        "readme": "# built\n",
        "dockerfile": DOCKERFILE,
        "public": "False",
        "logo_id": "__none__",
        "wait": "False",
        "image": base64.b64encode(pickle.dumps({"name": "built"})).decode(),
    }
    form.update(changes)
    return form


def sdk_body(
    form: dict[str, str], context: bytes | None, as_file: bool = True
) -> tuple[bytes, str]:
    """The body SDK 0.6.9 sends: aiohttp's FormData rendered to bytes before signing."""
    import aiohttp

    async def render() -> tuple[bytes, str]:
        data = aiohttp.FormData(default_to_multipart=True)
        for key, value in form.items():
            data.add_field(key, value)
        if context is not None:
            if as_file:
                data.add_field(
                    "build_context",
                    io.BytesIO(context),
                    filename="chute.zip",
                    content_type="application/zip",
                )
            else:
                data.add_field("build_context", context.decode("latin-1"))
        payload = data()
        writer = _Body()
        await payload.write(writer)
        return writer.output.getvalue(), payload.content_type

    return asyncio.run(render())


def post_build(
    box: Sandbox,
    user: str | SandboxUser = "demo",
    form: dict[str, str] | None = None,
    context: bytes | None = None,
    *,
    api_key: bool = False,
    raw: tuple[bytes, str] | None = None,
) -> httpx.Response:
    """`POST /images/`, signed over the body hash (or with the user's API key)."""
    person = box.users[user] if isinstance(user, str) else user
    body, content_type = raw or sdk_body(
        form or fields(person.creds.username), zip_of(CONTEXT) if context is None else context
    )
    headers = person.key_headers() if api_key else person.signed(body=body)
    headers.update({"Content-Type": content_type, "X-Chutes-Version": "0.6.9"})
    with box.http() as http:
        return http.post("/images/", content=body, headers=headers)


def image_row(box: Sandbox, image_id: str) -> dict | None:
    rows = box.query("SELECT * FROM images WHERE image_id = ?", image_id)
    return rows[0] if rows else None


def status(box: Sandbox, image_id: str) -> str:
    row = image_row(box, image_id)
    return row["status"] if row else ""


def counts(box: Sandbox) -> tuple[int, int]:
    images = box.query("SELECT COUNT(*) AS n FROM images")[0]["n"]
    builds = box.query("SELECT COUNT(*) AS n FROM builds")[0]["n"]
    return images, builds


def wait_status(box: Sandbox, image_id: str, *prefixes: str) -> str:
    return wait_simulated(
        box,
        lambda: status(box, image_id) if status(box, image_id).startswith(prefixes) else "",
        f"status {prefixes}",
    )


def finish(box: Sandbox, image_id: str) -> str:
    box.advance(END)
    return wait_status(box, image_id, "built and pushed", "error:")


def build_log(box: Sandbox, image_id: str, user: str = "demo") -> httpx.Response:
    with box.http() as http:
        return http.get(f"/images/{image_id}/logs", headers=box.users[user].signed("images"))


@dataclass
class Event:
    kind: str  # "data", "keep-alive" or "done"
    stream: str = ""
    text: str = ""
    offset: str = ""


def parse_event(line: str) -> Event:
    if line == ".":
        return Event("keep-alive")
    if line == "DONE":
        return Event("done")
    assert line.startswith("data: {"), line
    payload = json.loads(line.removeprefix("data: "))
    log = payload["log"]
    return Event("data", log["log_type"], log["log"], payload["offset"])


def read_until(lines: Iterator[str], kind: str) -> list[Event]:
    """Events up to and including the first of `kind`."""
    found = []
    for line in lines:
        event = parse_event(line)
        found.append(event)
        if event.kind == kind:
            return found
    raise AssertionError(f"the stream ended before a {kind}: {found[-3:]}")


@pytest.fixture
def paused(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path, paused=True) as box:
        yield box


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One paused sandbox for the tests that add only images of their own names."""
    with running_sandbox(tmp_path_factory.mktemp("builds"), paused=True) as box:
        yield box


# upload, statuses, log stream


def test_an_upload_builds_on_the_clock_and_its_log_streams_and_resumes(paused: Sandbox) -> None:
    box = paused
    reply = post_build(box)
    assert reply.status_code == 202, reply.text
    image = reply.json()
    image_id = image_uid("demo", "built", "0.1")
    assert image["image_id"] == image_id
    assert (image["name"], image["tag"], image["status"]) == ("built", "0.1", "pending build")
    assert image["public"] is False and image["user"]["username"] == "demo"
    assert image["build_started_at"] is None and image["chutes_version"] == "0.6.9"
    stored = box.query("SELECT * FROM builds WHERE image_id = ?", image_id)[0]
    assert stored["dockerfile"] == DOCKERFILE + "\n\nRUN pip install chutes==0.6.9"

    demo = box.users["demo"].signed("images")
    with box.http() as http:
        # Pending: nothing to say yet but keep-alives.
        with http.stream("GET", f"/images/{image_id}/logs", headers=demo) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["cache-control"] == "no-cache"
            assert stream.headers["x-accel-buffering"] == "no"
            assert parse_event(next(stream.iter_lines())).kind == "keep-alive"

        box.advance(QUEUE_SECONDS)
        assert wait_status(box, image_id, "building") == "building"
        box.advance(3)
        with http.stream("GET", f"/images/{image_id}/logs", headers=demo) as stream:
            first = read_until(stream.iter_lines(), "keep-alive")[:-1]
        assert first, "three simulated seconds into a build, the log says something"
        assert first[0].text.startswith("Sending build context to Docker daemon")
        assert first[1].text == "Step 1/4 : FROM parachutes/python:3.12"

        # Resume from the last offset: no repeats, no gaps, to the end of the build.
        offset = first[-1].offset
        with http.stream(
            "GET", f"/images/{image_id}/logs", params={"offset": offset}, headers=demo
        ) as stream:
            lines = stream.iter_lines()
            box.advance(5)
            middle = read_until(lines, "keep-alive")[:-1]
            box.advance(END)
            rest = read_until(lines, "done")[:-1]
    streamed = first + middle + rest
    assert [int(event.offset) for event in streamed] == list(range(1, len(streamed) + 1))
    assert {event.stream for event in streamed} == {"stdout", "stderr"}
    assert all(event.kind == "data" for event in streamed)

    assert wait_status(box, image_id, "built and pushed") == "built and pushed"
    text = build_log(box, image_id)
    assert text.status_code == 200
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"] == f'inline; filename="{image_id}.log"'
    assert text.text == "\n".join(event.text for event in streamed)
    with box.http() as http:
        done = http.get(f"/images/{image_id}", headers=box.users["demo"].key_headers()).json()
    assert done["build_started_at"] and done["build_completed_at"]


def test_the_log_reads_like_docker_and_pip(shared: Sandbox) -> None:
    box = shared
    reply = post_build(box, form=fields(name="docker-like"))
    image_id = reply.json()["image_id"]
    assert finish(box, image_id) == "built and pushed"
    lines = build_log(box, image_id).text.splitlines()
    steps = [line for line in lines if line.startswith("Step ")]
    assert steps == [
        "Step 1/4 : FROM parachutes/python:3.12",
        "Step 2/4 : RUN pip install --no-cache numpy==2.2.6 requests",
        "Step 3/4 : ADD app.py /app/app.py",
        "Step 4/4 : RUN pip install chutes==0.6.9",
    ]
    assert "3.12: Pulling from parachutes/python" in lines
    assert "Status: Downloaded newer image for parachutes/python:3.12" in lines
    assert "Collecting numpy==2.2.6" in lines
    assert any(line.startswith("Downloading numpy-2.2.6-") for line in lines)
    assert any(line.startswith("Successfully installed ") and "requests-" in line for line in lines)
    assert any(line.startswith(" ---> Running in ") for line in lines)
    assert "Successfully tagged demo/docker-like:0.1" in lines
    assert any(line.startswith("Successfully built ") for line in lines)
    assert "The push refers to repository [registry.sandbox.local/demo/docker-like]" in lines
    assert lines[-1].startswith(f"completed forging image {image_id} in ")
    assert len(lines) <= limits.MAX_BUILD_LOG_LINES


def test_an_image_deleted_while_building_ends_its_stream_and_builds_again(
    shared: Sandbox,
) -> None:
    box = shared
    demo = box.users["demo"].key_headers()
    image_id = post_build(box, form=fields(name="rebuilt")).json()["image_id"]
    box.advance(QUEUE_SECONDS)
    wait_status(box, image_id, "building")
    with box.http() as http:
        with http.stream("GET", f"/images/{image_id}/logs", headers=demo) as stream:
            lines = stream.iter_lines()
            read_until(lines, "keep-alive")
            assert http.delete(f"/images/{image_id}", headers=demo).json()["deleted"] is True
            read_until(lines, "done")
        assert not box.query("SELECT * FROM builds WHERE image_id = ?", image_id)
        again = post_build(box, form=fields(name="rebuilt"))
        assert again.status_code == 202 and again.json()["status"] == "pending build"
    box.advance(QUEUE_SECONDS)
    assert wait_status(box, image_id, "building") == "building"
    assert finish(box, image_id) == "built and pushed"


def test_the_same_upload_gives_the_same_log(tmp_path: Path) -> None:
    logs = []
    for run in ("one", "two"):
        with running_sandbox(tmp_path / run, paused=True) as box:
            image_id = post_build(box).json()["image_id"]
            finish(box, image_id)
            logs.append(build_log(box, image_id).text)
    assert logs[0] == logs[1]


# failure triggers


FAILURES = [
    (
        "pip-missing",
        "FROM parachutes/python:3.12\nRUN pip install numpy==2.2.6 torch==2.999",
        "error: Step 2/3 : RUN pip install numpy==2.2.6 torch==2.999"
        " -- No matching distribution found for torch==2.999",
        [
            "ERROR: No matching distribution found for torch==2.999",
            "The command '/bin/sh -c pip install numpy==2.2.6 torch==2.999' returned a"
            " non-zero code: 1",
        ],
    ),
    (
        "pip-minimum",
        "FROM parachutes/python:3.12\nRUN python -m pip install 'vllm>=999.0'",
        "error: Step 2/3 : RUN python -m pip install 'vllm>=999.0'"
        " -- No matching distribution found for vllm>=999.0",
        [
            "ERROR: No matching distribution found for vllm>=999.0",
            "The command '/bin/sh -c python -m pip install 'vllm>=999.0'' returned",
        ],
    ),
    (
        "from-tag",
        "FROM python:3.999-slim\nRUN echo hi",
        "error: Step 1/3 : FROM python:3.999-slim"
        " -- manifest for python:3.999-slim not found: manifest unknown: manifest unknown",
        ["manifest for python:3.999-slim not found: manifest unknown: manifest unknown"],
    ),
    (
        "from-user",
        "FROM demo/nothing-here:1.0\nRUN echo hi",
        "error: Step 1/3 : FROM demo/nothing-here:1.0 -- pull access denied for"
        " demo/nothing-here, repository does not exist or may require 'docker login':"
        " denied: requested access to the resource is denied",
        ["pull access denied for demo/nothing-here, repository does not exist"],
    ),
    (
        "from-unbuilt",
        "FROM demo/tts:0.2",
        "error: Step 1/2 : FROM demo/tts:0.2 -- pull access denied for demo/tts, repository"
        " does not exist or may require 'docker login': denied: requested access to the"
        " resource is denied",
        ["pull access denied for demo/tts"],
    ),
    (
        "from-bad-ref",
        "FROM Parachutes/Python:3.12",
        "error: Step 1/2 : FROM Parachutes/Python:3.12 -- invalid reference format:"
        " repository name must be lowercase",
        ["invalid reference format: repository name must be lowercase"],
    ),
    (
        "copy-missing",
        "FROM parachutes/python:3.12\nCOPY missing.txt /app/",
        "error: Step 2/3 : COPY missing.txt /app/ -- COPY failed: file not found in build"
        " context or excluded by .dockerignore: stat missing.txt: file does not exist",
        ["COPY failed: file not found in build context"],
    ),
    (
        "add-outside",
        "FROM parachutes/python:3.12\nADD ../secrets /app/",
        "error: Step 2/3 : ADD ../secrets /app/ -- ADD failed: forbidden path outside the"
        " build context: ../secrets ()",
        ["ADD failed: forbidden path outside the build context: ../secrets ()"],
    ),
    (
        "run-exit",
        "FROM parachutes/python:3.12\nRUN echo building && exit 3",
        "error: Step 2/3 : RUN echo building && exit 3 -- The command '/bin/sh -c echo"
        " building && exit 3' returned a non-zero code: 3",
        ["building", "The command '/bin/sh -c echo building && exit 3' returned a non-zero"],
    ),
    (
        "parse",
        "FROM parachutes/python:3.12\nFORM python:3.12",
        "error: dockerfile parse error line 2: unknown instruction: FORM",
        ["Error response from daemon: dockerfile parse error line 2: unknown instruction"],
    ),
    (
        "no-from",
        "RUN echo first",
        "error: Step 1/2 : RUN echo first -- No build stage in current context",
        ["No build stage in current context"],
    ),
]


@pytest.mark.parametrize(
    ("name", "dockerfile", "error", "last_lines"), FAILURES, ids=[case[0] for case in FAILURES]
)
def test_a_dockerfile_that_cannot_build_fails_at_its_step(
    shared: Sandbox, name: str, dockerfile: str, error: str, last_lines: list[str]
) -> None:
    box = shared
    reply = post_build(box, form=fields(name=f"fail-{name}", dockerfile=dockerfile))
    assert reply.status_code == 202, reply.text
    image_id = reply.json()["image_id"]
    assert finish(box, image_id) == error
    text = build_log(box, image_id)
    assert text.headers["content-type"].startswith("text/plain")
    tail = text.text.splitlines()[-len(last_lines) :]
    for line, expected in zip(tail, last_lines, strict=True):
        assert line.startswith(expected), (line, expected)
    assert "Successfully tagged" not in text.text
    with box.http() as http:
        image = http.get(f"/images/{image_id}", headers=box.users["demo"].key_headers()).json()
    assert image["status"] == error and image["build_completed_at"] is None


def test_a_failing_build_streams_its_error_on_stderr(shared: Sandbox) -> None:
    box = shared
    form = fields(name="fail-stream", dockerfile="FROM parachutes/python:3.12\nRUN exit 7")
    image_id = post_build(box, form=form).json()["image_id"]
    box.advance(QUEUE_SECONDS)
    wait_status(box, image_id, "building")
    with (
        box.http() as http,
        http.stream(
            "GET", f"/images/{image_id}/logs", headers=box.users["demo"].signed("images")
        ) as stream,
    ):
        lines = stream.iter_lines()
        box.advance(END)
        events = read_until(lines, "done")[:-1]
    last = events[-1]
    assert (last.stream, last.text) == (
        "stderr",
        "The command '/bin/sh -c exit 7' returned a non-zero code: 7",
    )
    assert wait_status(box, image_id, "error:").endswith("returned a non-zero code: 7")


def test_what_only_looks_like_a_failure_builds(shared: Sandbox) -> None:
    dockerfile = (
        "ARG VERSION=3.12\n"
        "FROM parachutes/python:3.12 AS base\n"
        "# a comment, and a continued line\n"
        "RUN pip install torch==2.999 \\\n    || echo 'no such torch, carrying on'\n"
        "RUN pip install 'numpy<999' && false || true\n"
        "FROM base\n"
        "COPY --from=base /usr/lib /usr/lib\n"
        "COPY ./app.py /app/\n"
        "COPY *.py /app/\n"
        "FROM demo/hello:0.1\n"  # demo's own built image
        "FROM chutes/vllm:nightly-2025111700\n"  # a public one
        'ENV A=1\nWORKDIR /app\nUSER chutes\nENTRYPOINT ["python"]'
    )
    box = shared
    image_id = post_build(box, form=fields(name="near-misses", dockerfile=dockerfile)).json()[
        "image_id"
    ]
    assert finish(box, image_id) == "built and pushed"
    text = build_log(box, image_id).text
    assert "ERROR: No matching distribution found for torch==2.999" in text
    assert "no such torch, carrying on" in text
    assert "Step 1/15 : ARG VERSION=3.12" in text


def test_another_users_private_image_cannot_be_a_base(shared: Sandbox) -> None:
    box = shared
    form = fields("alice", name="on-demos", dockerfile="FROM demo/hello:0.1")
    image_id = post_build(box, "alice", form).json()["image_id"]
    assert finish(box, image_id).startswith(
        "error: Step 1/2 : FROM demo/hello:0.1 -- pull access denied for demo/hello"
    )


def test_a_huge_log_keeps_its_start_and_its_end(shared: Sandbox) -> None:
    packages = " ".join(f"pkg{number}" for number in range(2500))
    dockerfile = f"FROM parachutes/python:3.12\nRUN pip install {packages}"
    box = shared
    image_id = post_build(box, form=fields(name="huge-log", dockerfile=dockerfile)).json()[
        "image_id"
    ]
    assert finish(box, image_id) == "built and pushed"
    text = build_log(box, image_id).text
    lines = text.splitlines()
    assert len(lines) <= limits.MAX_BUILD_LOG_LINES
    assert len(text.encode()) <= limits.MAX_BUILD_LOG_BYTES
    assert lines[1] == "Step 1/3 : FROM parachutes/python:3.12"
    assert any(line.endswith("lines of build output omitted ...") for line in lines)
    assert lines[-1].startswith(f"completed forging image {image_id}")


# upload bounds: each refused with a clear text, and nothing written


def _refused(box: Sandbox, reply: httpx.Response, code: int, words: str) -> None:
    assert reply.status_code == code, reply.text
    detail = reply.json()["detail"]
    assert words in (detail if isinstance(detail, str) else json.dumps(detail)), detail


def _corrupt_crc(archive: bytes) -> bytes:
    """A stored entry whose bytes no longer match its checksum."""
    return archive.replace(b"print('hello')", b"print('HELLO')")


def _shrink_declared(archive: bytes) -> bytes:
    """An entry that declares 10 bytes but inflates to a megabyte (a zip bomb in miniature)."""
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo("bomb")
    size = info.file_size.to_bytes(4, "little")
    return archive.replace(size, (10).to_bytes(4, "little"))


def _stored_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    return info


BAD_CONTEXTS = {
    "not a zip": (b"this is not a zip file", 422, "build_context is not a valid zip archive"),
    "truncated": (zip_of(CONTEXT)[:-30], 422, "build_context is not a valid zip archive"),
    "absolute path": (
        zip_of({"/etc/cron.d/evil": "x"}),
        422,
        "build_context holds an absolute path: '/etc/cron.d/evil'",
    ),
    "parent path": (
        zip_of({"app/../../evil.py": "x"}),
        422,
        "build_context holds a path outside the archive root: 'app/../../evil.py'",
    ),
    "backslash parent": (
        zip_of({"..\\evil.py": "x"}),
        422,
        "build_context holds a path outside the archive root",
    ),
    "symlink": (
        zip_of({"link": "/etc/passwd"}, link=_symlink()),
        422,
        "build_context holds a symbolic link",
    ),
    "bad checksum": (
        _corrupt_crc(_stored_zip(CONTEXT)),
        422,
        "build_context is not a valid zip archive: 'app.py': Bad CRC-32",
    ),
    "bomb": (
        _shrink_declared(zip_of({"bomb": b"\0" * 1_000_000})),
        422,
        "build_context is not a valid zip archive: 'bomb'",
    ),
    "too many files": (
        _stored_zip({f"f{number}": "" for number in range(limits.MAX_CONTEXT_FILES + 1)}),
        413,
        f"build_context holds {limits.MAX_CONTEXT_FILES + 1} files; at most"
        f" {limits.MAX_CONTEXT_FILES} are accepted",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONTEXTS))
def test_a_bad_build_context_is_refused_and_nothing_written(shared: Sandbox, case: str) -> None:
    archive, code, words = BAD_CONTEXTS[case]
    box = shared
    before = counts(box)
    reply = post_build(box, form=fields(name=f"ctx-{case.replace(' ', '-')}"), context=archive)
    _refused(box, reply, code, words)
    assert counts(box) == before


def test_an_unpacked_size_over_the_limit_is_refused(
    shared: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_CONTEXT_UNPACKED", 5_000)
    box = shared
    before = counts(box)
    reply = post_build(box, form=fields(name="big-unpacked"), context=zip_of({"a": b"\0" * 6000}))
    _refused(box, reply, 413, "build_context unpacks to 6000 bytes; at most 5000 are accepted")
    assert counts(box) == before


def test_an_upload_over_the_size_limit_is_refused_announced_or_chunked(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, paused=True, max_build_upload=100_000) as box:
        before = counts(box)
        archive = _stored_zip({"blob.bin": os.urandom(150_000)})
        reply = post_build(box, context=archive)
        _refused(box, reply, 413, "Build upload too large: at most 100000 bytes are accepted")
        body, content_type = sdk_body(fields(), archive)
        headers = box.users["demo"].key_headers() | {"Content-Type": content_type}
        with box.http() as http:
            chunked = http.post(
                "/images/", content=iter([body[:60_000], body[60_000:]]), headers=headers
            )
        _refused(box, chunked, 413, "Build upload too large")
        assert counts(box) == before
        # Under the limit, the same sandbox builds.
        assert post_build(box).status_code == 202


def test_the_upload_limit_is_a_serve_option() -> None:
    from chutes_tui.cli import build_parser
    from chutes_tui.sandbox.commands import _settings

    args = ["sandbox", "serve", "--max-build-upload", "1000000"]
    assert _settings(build_parser().parse_args(args)).max_build_upload == 1_000_000
    default = _settings(build_parser().parse_args(["sandbox", "serve"]))
    assert default.max_build_upload == limits.MAX_BUILD_UPLOAD == 50_000_000


@pytest.mark.parametrize(
    ("case", "form", "as_file", "code", "words"),
    [
        ("missing", {"dockerfile": None}, True, 422, '"loc": ["body", "dockerfile"]'),
        ("no file", {}, False, 422, '"loc": ["body", "build_context"]'),
        ("bad bool", {"public": "maybe"}, True, 422, "valid boolean"),
        ("short name", {"name": "ab"}, True, 422, "Invalid image name: ab"),
        ("bad name", {"name": "no spaces"}, True, 422, "Invalid image name: no spaces"),
        ("slash", {"name": "a/b/c"}, True, 422, "Invalid image name: a/b/c"),
        ("bad tag", {"tag": "1"}, True, 422, "Invalid image tag: 1"),
        ("readme", {"readme": "x" * 20_000}, True, 422, "readme is 20000 characters"),
        (
            "dockerfile",
            {"dockerfile": "#" * (limits.MAX_DOCKERFILE_CHARS + 1)},
            True,
            422,
            f"dockerfile is {limits.MAX_DOCKERFILE_CHARS + 1} characters",
        ),
        ("logo", {"logo_id": "no-such-logo"}, True, 422, "Logo not found: no-such-logo"),
    ],
)
def test_a_bad_form_is_refused_and_nothing_written(
    shared: Sandbox, case: str, form: dict, as_file: bool, code: int, words: str
) -> None:
    box = shared
    sent = fields()
    for key, value in form.items():
        if value is None:
            del sent[key]
        else:
            sent[key] = value
    before = counts(box)
    reply = post_build(box, raw=sdk_body(sent, zip_of(CONTEXT), as_file=as_file))
    _refused(box, reply, code, words)
    assert counts(box) == before


def test_a_body_that_is_not_a_sane_form_is_refused(shared: Sandbox) -> None:
    box = shared
    before = counts(box)
    reply = post_build(box, raw=(b'{"name": "json"}', "application/json"))
    _refused(box, reply, 422, "Expected a multipart/form-data body")
    many = dict(fields(), **{f"extra{number}": "x" for number in range(limits.MAX_FORM_PARTS)})
    _refused(box, post_build(box, raw=sdk_body(many, zip_of(CONTEXT))), 413, "more than")
    body, content_type = sdk_body(fields(), zip_of(CONTEXT))
    cut = post_build(box, raw=(body[: len(body) // 2], content_type))
    _refused(box, cut, 422, "Malformed multipart body")
    assert counts(box) == before


# who may build what


def test_a_second_build_of_the_same_name_and_tag_is_refused(shared: Sandbox) -> None:
    box = shared
    assert post_build(box, form=fields(name="twice")).status_code == 202
    before = counts(box)
    for name in ("twice", "TWICE"):  # the id ignores case, so this is the same image
        reply = post_build(box, form=fields(name=name))
        assert reply.status_code == 409, reply.text
        assert reply.json() == {"detail": f"Image with name='{name}' and tag='0.1' aready exists"}
    assert counts(box) == before


def test_images_for_someone_else_or_without_developer_permission_are_refused(
    shared: Sandbox,
) -> None:
    box = shared
    before = counts(box)
    reply = post_build(box, "demo", fields("alice", name="not-mine"))
    assert reply.status_code == 401
    assert reply.json() == {"detail": "Cannot make images for users other than yourself!"}
    reply = post_build(box, "bob", fields("bob", name="bobs"))
    assert reply.status_code == 401 and reply.json()["detail"].startswith(DEVELOPER_401)
    unsigned = sdk_body(fields(name="anon"), zip_of(CONTEXT))
    with box.http() as http:
        anonymous = http.post(
            "/images/", content=unsigned[0], headers={"Content-Type": unsigned[1]}
        )
    assert anonymous.status_code == 401
    assert counts(box) == before


def test_an_api_key_builds_too(shared: Sandbox) -> None:
    reply = post_build(shared, form=fields(name="by-key"), api_key=True)
    assert reply.status_code == 202, reply.text


def test_public_images_need_the_public_permission(shared: Sandbox, tmp_path: Path) -> None:
    box = shared
    before = counts(box)
    reply = post_build(box, form=fields(name="shown", public="True"))
    assert reply.status_code == 403
    assert reply.json() == {"detail": PUBLIC_REFUSAL}
    assert counts(box) == before

    chutes = chutes_user(box, tmp_path)
    reply = post_build(box, chutes, fields("chutes", name="shown", public="True"))
    assert reply.status_code == 202, reply.text
    image_id = reply.json()["image_id"]
    assert reply.json()["public"] is True
    assert finish(box, image_id) == "built and pushed"
    with box.http() as http:
        bob = box.users["bob"].key_headers()
        found = http.get("/images/chutes/shown:0.1", headers=bob).json()
        assert found["public"] is True and found["status"] == "built and pushed"
        assert http.get(f"/images/{image_id}/logs", headers=bob).status_code == 200


def chutes_user(box: Sandbox, tmp_path: Path) -> SandboxUser:
    """The seeded owner of the standard images, who may publish."""
    store = Store(box.db_path)
    try:
        path = tmp_path / "chutes.ini"
        path.write_text(config_text("chutes", box.url, store) or "")
        return SandboxUser(credentials(store, "chutes"), path)
    finally:
        store.close()


# the pickle is never loaded


class Trap:
    """Unpickling this runs `call(*args)`."""

    def __init__(self, call: object, *args: str) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple:
        return (self.call, self.args)


def test_the_image_pickle_is_never_unpickled(shared: Sandbox, tmp_path: Path) -> None:
    opened, touched = tmp_path / "opened", tmp_path / "touched"
    armed = [
        pickle.dumps(Trap(open, str(opened), "w")),
        pickle.dumps(Trap(os.system, f"touch {shlex.quote(str(touched))}")),
    ]
    # The traps work: loading a copy aimed elsewhere creates its file.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Trap(open, str(control), "w"))).close()
    assert control.exists()

    box = shared
    for number, payload in enumerate(armed):
        form = fields(name=f"trap-{number}", image=base64.b64encode(payload).decode())
        reply = post_build(box, form=form)
        assert reply.status_code == 202, reply.text
        finish(box, reply.json()["image_id"])
    assert not opened.exists() and not touched.exists()
    stored = "\n".join(str(row) for row in box.query("SELECT * FROM builds"))
    assert base64.b64encode(armed[0]).decode() not in stored  # not even kept


# surviving a restart


def test_a_build_carries_on_after_a_restart(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path, paused=True)
    try:
        image_id = post_build(box).json()["image_id"]
        box.advance(QUEUE_SECONDS + 2)
        wait_status(box, image_id, "building")
    finally:
        box.running.stop()
    box = start_sandbox(tmp_path, paused=True)
    try:
        box.advance(END)
        assert wait_status(box, image_id, "built and pushed") == "built and pushed"
        text = build_log(box, image_id).text
        assert text.startswith("Sending build context to Docker daemon")
        assert "Successfully tagged demo/built:0.1" in text
    finally:
        box.running.stop()


def test_a_build_that_cannot_be_resumed_fails_cleanly(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path, paused=True)
    try:
        image_id = post_build(box).json()["image_id"]
    finally:
        box.running.stop()
    with sqlite3.connect(box.db_path) as db:
        db.execute("UPDATE builds SET script = 'not json' WHERE image_id = ?", (image_id,))
    box = start_sandbox(tmp_path, paused=True)
    try:
        assert status(box, image_id) == LOST
        assert build_log(box, image_id).text == LOST.removeprefix("error: ")
    finally:
        box.running.stop()


# the standard images


def test_the_sdk_standard_images_are_public_built_and_logged(shared: Sandbox) -> None:
    from chutes.image.standard.diffusion import DIFFUSION
    from chutes.image.standard.sglang import SGLANG
    from chutes.image.standard.vllm import VLLM

    assert {ref.removeprefix("chutes/") for ref in (VLLM, SGLANG, DIFFUSION)} == set(STANDARD)
    box = shared
    with box.http() as http:
        for ref in (VLLM, SGLANG, DIFFUSION):
            image = http.get(f"/images/{ref}", headers=box.users["bob"].key_headers()).json()
            assert image["status"] == "built and pushed" and image["public"] is True
            assert image["user"]["username"] == "chutes"
            assert image["image_id"] == image_uid("chutes", *ref.split("/")[1].split(":"))
            log = http.get(f"/images/{image['image_id']}/logs").text
            assert "Step 1/" in log and f"Successfully tagged {ref}" in log


def test_a_database_seeded_before_the_standard_images_gets_them(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path, paused=True)
    box.running.stop()
    standard = [image_uid("chutes", *ref.split(":")) for ref in STANDARD]
    with sqlite3.connect(box.db_path) as db:
        db.executemany("DELETE FROM images WHERE image_id = ?", [(i,) for i in standard])
    before = {row["image_id"] for row in box.query("SELECT image_id FROM images")}
    box = start_sandbox(tmp_path, paused=True)
    try:
        after = {row["image_id"] for row in box.query("SELECT image_id FROM images")}
        assert after == before | set(standard)
        assert {image_row(box, i)["status"] for i in standard} == {"built and pushed"}
    finally:
        box.running.stop()


def test_a_vllm_template_chute_deploys_on_the_standard_image(paused: Sandbox) -> None:
    body = deploy_body(
        name="unsloth/Llama-3.2-1B-Instruct",
        image="chutes/vllm:nightly-2025111700",
        standard_template="vllm",
        revision="a" * 40,
    )
    raw = json.dumps(body, separators=(",", ":")).encode()
    with paused.http() as http:
        reply = http.post(
            "/chutes/?accept_fee=true", content=raw, headers=paused.users["alice"].signed(body=raw)
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["image"]["name"] == "vllm"


# the official CLI


APP = """from chutes.chute import Chute, NodeSelector
from chutes.image import Image

image = (
    Image(username="{user}", name="{name}", tag="0.1", readme="## built by the CLI")
    .from_base("parachutes/python:3.12")
    .run_command("pip install numpy==2.2.6")
    .add("app.py", "/app/app.py")
)
chute = Chute(
    username="{user}",
    name="{name}-chute",
    image=image,
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    return text
"""
VLLM_APP = """from chutes.chute import NodeSelector
from chutes.chute.template.vllm import build_vllm_chute

chute = build_vllm_chute(
    username="demo",
    model_name="unsloth/Llama-3.2-1B-Instruct",
    revision="{revision}",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=24),
)
"""


@pytest.fixture(scope="module")
def cli_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("cli-builds"), paused=True) as box:
        yield box


def official(box: Sandbox, workdir: Path, user: str = "demo") -> Cli:
    """The official CLI as `user` (a seeded user, or `chutes`), run in `workdir`."""
    person = box.users[user] if user in box.users else chutes_user(box, workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES_", "PYTEST_"))}
    env.update(
        CHUTES_CONFIG_PATH=str(person.config_path),
        COLUMNS="250",
        NO_COLOR="1",
        PYTHONIOENCODING="utf-8",
    )
    return Cli(chutes_command(), workdir, env)


class Running:
    """A CLI run in the background, its output (loguru's and print's) read as it comes."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.process = subprocess.Popen(
            [*cli.command, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cli.cwd,
            env=cli.env,
        )
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("y\n")
        self.process.stdin.close()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append(ANSI.sub("", line.rstrip("\n")))

    def saw(self, words: str) -> bool:
        return any(words in line for line in list(self.lines))

    def finish(self) -> Run:
        self.process.wait(timeout=HANG_GUARD)
        self._reader.join(timeout=10)
        return Run((), self.process.returncode, "\n".join(self.lines), "")


@pytest.mark.sdk
def test_chutes_build_wait_streams_the_log_and_the_image_deploys(
    cli_box: Sandbox, tmp_path: Path
) -> None:
    box = cli_box
    (tmp_path / "app.py").write_text(APP.format(user="demo", name="cli-built"))
    cli = official(box, tmp_path)
    image_id = image_uid("demo", "cli-built", "0.1")

    running = Running(cli, "build", "app:chute", "--wait")
    wait_simulated(box, lambda: image_row(box, image_id), "the upload")
    box.advance(QUEUE_SECONDS + 1)  # building, a few lines out: the CLI streams them...
    wait_simulated(box, lambda: running.saw("Step 1/4 : FROM parachutes/python:3.12"), "a line")
    box.advance(END)  # ...and the rest, to DONE
    run = running.finish()
    assert run.returncode == 0, run.output
    assert f"Uploaded image package: image_id={image_id}, build will run async" in run.output
    streamed = [line for line in run.stdout.splitlines() if "chutes.entrypoint.build" in line]
    assert any(
        "| INFO" in line and "Step 3/4 : ADD app.py /app/app.py" in line for line in streamed
    )
    assert any(
        "| WARNING" in line and "Running pip as the 'root' user" in line for line in streamed
    )
    assert "Successfully tagged demo/cli-built:0.1" in run.output
    assert f"completed forging image {image_id}" in run.output
    assert wait_status(box, image_id, "built and pushed") == "built and pushed"
    context = box.query("SELECT dockerfile FROM builds WHERE image_id = ?", image_id)[0]
    assert "ADD app.py /app/app.py" in context["dockerfile"]

    deployed = cli("deploy", "app:chute", "--accept-fee")
    assert "Successfully deployed chute cli-built-chute" in deployed.output, deployed.output

    again = cli("build", "app:chute", "--wait")
    assert "Image with name=cli-built and tag=0.1 already exists!" in again.output
    assert again.returncode != 0
    assert len(box.query("SELECT * FROM images WHERE name = 'cli-built'")) == 1


@pytest.mark.sdk
def test_chutes_build_public_respects_the_permission(cli_box: Sandbox, tmp_path: Path) -> None:
    box = cli_box
    (tmp_path / "app.py").write_text(APP.format(user="demo", name="cli-public"))
    refused = official(box, tmp_path)("build", "app:chute", "--public")
    detail = json.dumps({"detail": PUBLIC_REFUSAL}, separators=(",", ":"))
    assert f"Unexpected error uploading image data: {detail}" in refused.output
    assert not box.query("SELECT * FROM images WHERE name = 'cli-public'")

    (tmp_path / "app.py").write_text(APP.format(user="chutes", name="cli-public"))
    allowed = official(box, tmp_path, "chutes")("build", "app:chute", "--public")
    image_id = image_uid("chutes", "cli-public", "0.1")
    assert f"Uploaded image package: image_id={image_id}" in allowed.output, allowed.output
    assert image_row(box, image_id)["public"] == 1


@pytest.mark.sdk
def test_a_build_vllm_chute_plans_and_deploys_with_the_official_cli(
    cli_box: Sandbox, tmp_path: Path
) -> None:
    box = cli_box
    (tmp_path / "llm.py").write_text(VLLM_APP.format(revision="b" * 40))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES", "PYTEST_"))}
    env.update(HOME=str(tmp_path), PYTHONIOENCODING="utf-8")
    command = [sys.executable, "-m", "chutes_tui", "--no-ui", "deploy", "llm:chute"]
    key = box.users["demo"].api_key
    command += ["--dir", str(tmp_path), "--api-url", box.url, "--api-key", key]
    plan = subprocess.run(
        [*command, "--dry-run", "--json"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stderr
    checks = {check["name"]: check for check in json.loads(plan.stdout)["checks"]}
    assert checks["image"]["ok"] is True, checks["image"]

    deployed = official(box, tmp_path)("deploy", "llm:chute", "--accept-fee")
    assert "Successfully deployed chute unsloth/Llama-3.2-1B-Instruct" in deployed.output, (
        deployed.output
    )
    row = box.query("SELECT * FROM chutes WHERE name = 'unsloth/Llama-3.2-1B-Instruct'")[0]
    assert row["image_id"] == image_uid("chutes", "vllm", "nightly-2025111700")
