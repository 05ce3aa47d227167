"""A tiny stand-in for the API that records image builds: what `chutes build` and
`chutes-tui --no-ui build` send, field by field, and whether the signature covers the body.

Images are unknown until one is posted (404), `/users/me` is `demo`, logos get a fixed id,
and `POST /images/` answers 202, or `build_status` with `build_detail` when set.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

# A throwaway substrate seed: the signature is checked against its ss58 address.
SEED = "1" * 64
SS58 = "5DtDLm5rQHShDqojQpsvcN8tRXHVFaecfDoRet1SU6BFD9Fi"  # of SEED
LOGO_ID = "3b0c5e0a-6a43-4b6e-9d55-logo00000001"


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Upload:
    path: str
    headers: dict[str, str]
    raw: bytes
    parts: list[Part]

    @property
    def fields(self) -> dict[str, str]:
        return {part.name: part.data.decode() for part in self.parts if part.filename is None}

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.parts]

    def file(self, name: str) -> Part:
        (found,) = [part for part in self.parts if part.name == name]
        return found

    def signed_over_body(self) -> bool:
        """The hotkey signature verifies over `<ss58>:<nonce>:<sha256 of these bytes>`."""
        from substrateinterface import Keypair

        message = (
            f"{self.headers['x-chutes-hotkey']}:{self.headers['x-chutes-nonce']}:"
            f"{hashlib.sha256(self.raw).hexdigest()}"
        )
        pair = Keypair(ss58_address=self.headers["x-chutes-hotkey"])
        signature = bytes.fromhex(self.headers["x-chutes-signature"])
        return bool(pair.verify(message.encode(), signature))


def multipart_parts(raw: bytes, content_type: str) -> list[Part]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email_policy).parsebytes(head + raw)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts.append(
            Part(
                str(name),
                part.get_filename(),
                part.get_content_type() if "content-type" in part else None,
                part.get_payload(decode=True) or b"",
            )
        )
    return parts


def zip_entries(data: bytes) -> dict[str, bytes]:
    """The files of a zip, by name (directories left out), in the zip's order."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {
            entry.filename: archive.read(entry)
            for entry in archive.infolist()
            if not entry.is_dir()
        }


@dataclass
class Capture:
    url: str = ""
    uploads: list[Upload] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    build_status: int = 202
    build_detail: str = ""


def _handler(capture: Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            capture.requests.append(f"GET {self.path}")
            if self.path.startswith("/users/me"):
                self._reply(200, {"username": "demo", "user_id": "u-demo", "balance": 100.0})
            else:
                self._reply(404, {"detail": "Image not found, or does not belong to you"})

        def do_POST(self) -> None:
            capture.requests.append(f"POST {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.startswith("/logos/"):
                self._reply(200, {"logo_id": LOGO_ID, "path": f"/logos/{LOGO_ID}.webp"})
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            parts = multipart_parts(raw, headers["content-type"])
            capture.uploads.append(Upload(self.path, headers, raw, parts))
            if capture.build_status != 202:
                self._reply(capture.build_status, {"detail": capture.build_detail})
                return
            fields = {part.name: part.data.decode() for part in parts if part.filename is None}
            self._reply(
                202,
                {
                    "image_id": "7e1b5a4c-0000-5000-8000-000000000001",
                    "name": fields.get("name"),
                    "tag": fields.get("tag"),
                    "status": "pending build",
                },
            )

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def capture_server() -> Iterator[Capture]:
    made = Capture()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(made))
    made.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()


def sdk_config(url: str) -> str:
    return (
        f"[api]\nbase_url = {url}\n\n"
        "[auth]\nusername = demo\nuser_id = 00000000-0000-4000-8000-000000000001\n"
        f"hotkey_seed = {SEED}\nhotkey_name = parity\nhotkey_ss58address = {SS58}\n\n"
        "[payment]\naddress = 5parity\n"
    )
