"""What `POST /images/` accepts: the SDK's multipart form, and a build context zip.

The body is parsed in memory, strictly and within bounds (`limits`); nothing is written
before every check has passed. The form's `image` field (a pickle of the SDK's Image object)
is required, as the platform requires it, and never decoded: the Dockerfile text and the zip
say everything a build needs.
"""

from __future__ import annotations

import io
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import HTTP
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from chutes_tui.sandbox import limits

TEXT_FIELDS = ("username", "name", "tag", "readme", "dockerfile", "logo_id", "image")
BOOL_FIELDS = ("public", "wait")
FILE_FIELD = "build_context"
TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})
END_OF_DIRECTORY = b"PK\x05\x06"
ZIP64_END = b"PK\x06\x06"
ZIP_CHUNK = 1 << 20
NOT_A_ZIP = "build_context is not a valid zip archive"
DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class FormPart:
    filename: str | None
    data: bytes


@dataclass(frozen=True)
class BuildForm:
    """The fields `chutes build` sends; `image` (the pickle) is deliberately not kept."""

    username: str
    name: str
    tag: str
    readme: str
    dockerfile: str
    logo_id: str | None  # "__none__" or empty is None
    public: bool
    wait: bool
    build_context: bytes


@dataclass(frozen=True)
class BuildContext:
    files: tuple[str, ...]  # paths of the zip's entries (directories end with `/`)
    unpacked: int  # bytes, the entries' sizes summed


def _malformed(why: str) -> HTTPException:
    return HTTPException(422, f"Malformed multipart body: {why}")


def form_parts(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by name, in one pass over the bytes."""
    header = BytesHeaderParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode(errors="replace")
    )
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise HTTPException(422, "Expected a multipart/form-data body with a boundary")
    delimiter = b"--" + boundary.encode()
    position = body.find(delimiter)
    if position < 0:
        raise _malformed("no part starts with the boundary")
    parts: dict[str, FormPart] = {}
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            return parts
        if body[position : position + 2] != b"\r\n":
            raise _malformed("a boundary is not followed by a line break")
        if len(parts) >= limits.MAX_FORM_PARTS:
            raise HTTPException(413, f"The form has more than {limits.MAX_FORM_PARTS} parts")
        head_end = body.find(b"\r\n\r\n", position, position + limits.MAX_PART_HEAD + 4)
        if head_end < 0:
            raise _malformed(f"a part's headers are missing or over {limits.MAX_PART_HEAD} bytes")
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if end < 0:
            raise _malformed("the body ends inside a part")
        headers = BytesHeaderParser(policy=HTTP).parsebytes(body[position + 2 : head_end + 4])
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise _malformed("a part has no name in its Content-Disposition")
        if name in parts:
            raise _malformed(f"the field {name!r} appears twice")
        filename = headers.get_param("filename", header="content-disposition")
        parts[name] = FormPart(
            filename if isinstance(filename, str) else None, body[head_end + 4 : end]
        )
        position = end + 2


def _error(kind: str, field: str, message: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", field], "msg": message, "input": value}


def build_form(parts: dict[str, FormPart]) -> BuildForm:
    """The SDK's fields, or 422 in FastAPI's shape listing every missing or invalid one."""
    errors: list[dict[str, Any]] = []
    text: dict[str, str] = {}
    flags: dict[str, bool] = {}
    for field in (*TEXT_FIELDS, *BOOL_FIELDS):
        part = parts.get(field)
        if part is None:
            errors.append(_error("missing", field, "Field required", None))
            continue
        try:
            value = part.data.decode()
        except UnicodeDecodeError:
            errors.append(_error("string_type", field, "Input should be valid UTF-8 text", None))
            continue
        if field in BOOL_FIELDS:
            word = value.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                message = "Input should be a valid boolean, unable to interpret input"
                errors.append(_error("bool_parsing", field, message, value[:100]))
                continue
            flags[field] = word in TRUE_WORDS
        else:
            text[field] = value
    context = parts.get(FILE_FIELD)
    if context is None:
        errors.append(_error("missing", FILE_FIELD, "Field required", None))
    elif context.filename is None:
        message = "Value error, Expected UploadFile, received: <class 'str'>"
        errors.append(_error("value_error", FILE_FIELD, message, None))
    if errors or context is None:
        raise RequestValidationError(errors)
    logo = text["logo_id"]
    return BuildForm(
        username=text["username"],
        name=text["name"],
        tag=text["tag"],
        readme=text["readme"],
        dockerfile=text["dockerfile"],
        logo_id=None if logo in ("", "__none__") else logo,
        public=flags["public"],
        wait=flags["wait"],
        build_context=context.data,
    )


def _declared_entries(data: bytes) -> int:
    """How many entries the zip's end record announces, read before anything is parsed,
    so a forged directory of millions of entries is refused without building them."""
    record = data.rfind(END_OF_DIRECTORY, max(0, len(data) - 65_557))
    if record < 0 or len(data) < record + 22:
        raise HTTPException(422, f"{NOT_A_ZIP}: File is not a zip file")
    (entries,) = struct.unpack_from("<H", data, record + 10)
    if entries != 0xFFFF:
        return int(entries)
    zip64 = data.rfind(ZIP64_END, 0, record)
    if zip64 < 0 or len(data) < zip64 + 40:
        raise HTTPException(422, f"{NOT_A_ZIP}: a zip64 end record is missing")
    (entries64,) = struct.unpack_from("<Q", data, zip64 + 32)
    return int(entries64)


def _path_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    unix = name.replace("\\", "/")
    if "\x00" in name:
        return f"build_context holds a file name with a NUL byte: {name!r}"
    if unix.startswith("/") or DRIVE.match(unix):
        return f"build_context holds an absolute path: {name!r}"
    cleaned = posixpath.normpath(unix)
    if cleaned == ".." or cleaned.startswith("../"):
        return f"build_context holds a path outside the archive root: {name!r}"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"build_context holds a symbolic link, which builds do not accept: {name!r}"
    return None


def _too_many(count: int) -> HTTPException:
    limit = limits.MAX_CONTEXT_FILES
    return HTTPException(413, f"build_context holds {count} files; at most {limit} are accepted")


def inspect_context(data: bytes) -> BuildContext:
    """Check a build context zip without extracting it: entry count, unpacked size, paths,
    and every entry's checksum (reading at most what the entries declare)."""
    entries = _declared_entries(data)
    if entries > limits.MAX_CONTEXT_FILES:
        raise HTTPException(
            413,
            f"build_context holds {entries} files; at most {limits.MAX_CONTEXT_FILES} are accepted",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as error:
        raise HTTPException(422, f"{NOT_A_ZIP}: {error}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.MAX_CONTEXT_FILES:
            raise _too_many(len(infos))
        unpacked = sum(info.file_size for info in infos)
        if unpacked > limits.MAX_CONTEXT_UNPACKED:
            raise HTTPException(
                413,
                f"build_context unpacks to {unpacked} bytes; at most"
                f" {limits.MAX_CONTEXT_UNPACKED} are accepted",
            )
        for info in infos:
            problem = _path_problem(info)
            if problem:
                raise HTTPException(422, problem)
        for info in infos:
            if not info.is_dir():
                _verify(archive, info)
        return BuildContext(tuple(info.filename for info in infos), unpacked)


def _verify(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read one entry through to its checksum; zipfile stops at the declared size."""
    try:
        with archive.open(info) as entry:
            while entry.read(ZIP_CHUNK):
                pass
    except (
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
        EOFError,
        OSError,
        ValueError,
        zlib.error,
    ) as error:
        raise HTTPException(422, f"{NOT_A_ZIP}: {info.filename!r}: {error}") from None
