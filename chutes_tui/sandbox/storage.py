"""SQLite storage for the sandbox: WAL mode, one connection, every write in a transaction.

The server runs on one event loop and SQLite calls are short, so the connection is used
from that loop only. Rows come back as plain dicts; JSON columns are decoded. The `*Row`
types spell out what `SELECT *` gives for each table.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, TypeVar

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    hotkey TEXT NOT NULL UNIQUE,
    coldkey TEXT NOT NULL,
    payment_address TEXT NOT NULL,
    permissions_bitmask INTEGER NOT NULL DEFAULT 0,
    balance REAL NOT NULL DEFAULT 0,
    logo_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    api_key_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 1,
    key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_by_name ON api_keys(user_id, name);
CREATE TABLE IF NOT EXISTS api_key_scopes (
    scope_id TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys(api_key_id) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    object_id TEXT,
    action TEXT
);
CREATE INDEX IF NOT EXISTS scopes_by_key ON api_key_scopes(api_key_id);
CREATE TABLE IF NOT EXISTS secrets (
    secret_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    key TEXT NOT NULL,
    value_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS secrets_by_user ON secrets(user_id, created_at);
CREATE TABLE IF NOT EXISTS images (
    image_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id),
    name TEXT NOT NULL,
    tag TEXT NOT NULL,
    readme TEXT NOT NULL DEFAULT '',
    public INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    logo_id TEXT,
    patch_version TEXT DEFAULT 'initial',
    chutes_version TEXT,
    build_log TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    build_started_at TEXT,
    build_completed_at TEXT
);
CREATE INDEX IF NOT EXISTS images_by_user ON images(user_id, created_at);
CREATE TABLE IF NOT EXISTS chutes (
    chute_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id),
    name TEXT NOT NULL COLLATE NOCASE,
    slug TEXT NOT NULL UNIQUE,
    public INTEGER NOT NULL DEFAULT 0,
    version TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(image_id),
    code TEXT NOT NULL,
    spec TEXT NOT NULL,
    invocation_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chutes_by_user ON chutes(user_id, name);
CREATE INDEX IF NOT EXISTS chutes_by_image ON chutes(image_id);
CREATE TABLE IF NOT EXISTS shares (
    chute_id TEXT NOT NULL REFERENCES chutes(chute_id) ON DELETE CASCADE,
    shared_by TEXT NOT NULL REFERENCES users(user_id),
    shared_to TEXT NOT NULL REFERENCES users(user_id),
    shared_at TEXT NOT NULL,
    PRIMARY KEY (chute_id, shared_to)
);
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    chute_id TEXT NOT NULL REFERENCES chutes(chute_id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    gpu_model_name TEXT NOT NULL,
    gpu_count INTEGER NOT NULL,
    hourly_rate REAL NOT NULL,
    miner_hotkey TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_verified_at TEXT,
    verify_due REAL NOT NULL,
    activate_due REAL NOT NULL,
    idle_deadline REAL NOT NULL,
    billed_from REAL
);
CREATE INDEX IF NOT EXISTS instances_by_chute ON instances(chute_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logos (
    logo_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS builds (
    image_id TEXT PRIMARY KEY REFERENCES images(image_id) ON DELETE CASCADE,
    dockerfile TEXT NOT NULL,
    script TEXT,
    outcome TEXT NOT NULL,
    start_due REAL NOT NULL,
    finish_due REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chute_history (
    user_id TEXT NOT NULL,
    chute_id TEXT NOT NULL,
    action TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    user_id TEXT NOT NULL,
    chute_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    bucket REAL NOT NULL,
    amount REAL NOT NULL DEFAULT 0,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, chute_id, kind, bucket)
);
CREATE INDEX IF NOT EXISTS ledger_by_bucket ON ledger(bucket);
CREATE INDEX IF NOT EXISTS ledger_by_user ON ledger(user_id, bucket);
"""

# Columns added since a table was first created: an older database gains them on opening.
ADDED_COLUMNS = (("api_keys", "last_used_at", "TEXT"),)
JSON_COLUMNS = ("spec",)
# What a column holds as sqlite3 hands it back.
SqlValue = int | float | str | bytes | None


class UserRow(TypedDict):
    user_id: str
    username: str
    hotkey: str
    coldkey: str
    payment_address: str
    permissions_bitmask: int
    balance: float
    logo_id: str | None
    created_at: str


class ApiKeyRow(TypedDict):
    api_key_id: str
    user_id: str
    name: str
    admin: int
    key_hash: str
    created_at: str
    last_used_at: str | None


class ImageRow(TypedDict):
    image_id: str
    user_id: str
    name: str
    tag: str
    readme: str
    public: int
    status: str
    logo_id: str | None
    patch_version: str | None
    chutes_version: str | None
    build_log: str
    created_at: str
    build_started_at: str | None
    build_completed_at: str | None


class ChuteRow(TypedDict):
    chute_id: str
    user_id: str
    name: str
    slug: str
    public: int
    version: str
    image_id: str
    code: str
    spec: dict[str, Any]  # decoded JSON: what the chute was deployed with
    invocation_count: int
    created_at: str
    updated_at: str


class ShareRow(TypedDict):
    chute_id: str
    shared_by: str
    shared_to: str
    shared_at: str


class InstanceRow(TypedDict):
    instance_id: str
    chute_id: str
    region: str
    gpu_model_name: str
    gpu_count: int
    hourly_rate: float
    miner_hotkey: str
    active: int
    verified: int
    created_at: str
    last_verified_at: str | None
    verify_due: float
    activate_due: float
    idle_deadline: float
    billed_from: float | None


class BuildRow(TypedDict):
    """A build the sandbox runs: its script (JSON, until it finishes) and deadlines on the
    simulated clock for `building` and for the final status, `outcome`."""

    image_id: str
    dockerfile: str
    script: str | None
    outcome: str
    start_due: float
    finish_due: float


class LogoRow(TypedDict):
    logo_id: str
    user_id: str
    content_type: str
    data: bytes
    created_at: str


AnyRow = TypeVar(
    "AnyRow", UserRow, ApiKeyRow, ImageRow, ChuteRow, ShareRow, InstanceRow, LogoRow, BuildRow
)


def now_iso() -> str:
    """A timezone-aware timestamp as the API writes it: microseconds and `Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def naive_iso() -> str:
    """A naive UTC timestamp (share `shared_at` has no zone suffix)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def present(row: AnyRow | None, what: str) -> AnyRow:
    """A row the schema's keys, or a write just made, promise; LookupError names it if not."""
    if row is None:
        raise LookupError(f"{what} is missing")
    return row


def _row(cursor: sqlite3.Cursor, values: tuple[SqlValue, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {
        column[0]: value for column, value in zip(cursor.description, values, strict=True)
    }
    for key in JSON_COLUMNS:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def _chmod_if_present(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)


def _make_private(path: Path) -> None:
    """The database holds the secret every seeded credential derives from: its directory is
    made 0700 when the sandbox creates it (or it is the app's own data directory), and the
    database file is 0600 before SQLite opens it, so its -wal and -shm files are 0600 too."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=PRIVATE_DIR)
        directory.chmod(PRIVATE_DIR)
    elif directory == _own_data_dir():
        _chmod_if_present(directory, PRIVATE_DIR)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    _chmod_if_present(path, PRIVATE_FILE)


def _own_data_dir() -> Path | None:
    from chutes_tui.core.locations import sandbox_db

    try:
        return sandbox_db().parent
    except Exception:  # no home directory to speak of
        return None


class Store:
    """The sandbox database."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            _make_private(Path(path))
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = _row
        self._lock = threading.RLock()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            present = {row["name"] for row in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        if str(path) != ":memory:":
            for companion in ("-wal", "-shm"):  # SQLite gives new ones the database's mode
                _chmod_if_present(Path(f"{path}{companion}"), PRIVATE_FILE)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: committed on success, rolled back on any exception."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def one(self, sql: str, *args: object) -> dict[str, Any] | None:
        with self._lock:
            return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def one_as(self, shape: type[AnyRow], sql: str, *args: object) -> AnyRow | None:
        """The first row of a query that selects every column of the table `shape` describes."""
        with self._lock:
            return self.db.execute(sql, args).fetchone()

    def all_as(self, shape: type[AnyRow], sql: str, *args: object) -> list[AnyRow]:
        """The rows of a query that selects every column of the table `shape` describes."""
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def tuples(self, sql: str, *args: object) -> list[tuple[SqlValue, ...]]:
        """Rows as plain tuples, for long reads where building a dict per row costs."""
        with self._lock:
            cursor = self.db.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, args).fetchall()

    def scalar(self, sql: str, *args: object) -> SqlValue:
        row = self.one(sql, *args)
        return next(iter(row.values())) if row else None

    def count(self, sql: str, *args: object) -> int:
        """The number a `SELECT COUNT(*) ...` query gives."""
        value = self.scalar(sql, *args)
        if not isinstance(value, int):
            raise TypeError(f"not a count: {sql}")
        return value

    def is_empty(self) -> bool:
        return not self.count("SELECT COUNT(*) AS n FROM users")

    # users

    def user(self, user_id: str) -> UserRow | None:
        return self.one_as(UserRow, "SELECT * FROM users WHERE user_id = ?", user_id)

    def user_by_hotkey(self, hotkey: str) -> UserRow | None:
        return self.one_as(UserRow, "SELECT * FROM users WHERE hotkey = ?", hotkey)

    def find_user(self, id_or_name: str) -> UserRow | None:
        """A user by exact id or case-insensitive name."""
        return self.one_as(
            UserRow,
            "SELECT * FROM users WHERE user_id = ? OR username = ? COLLATE NOCASE LIMIT 1",
            id_or_name,
            id_or_name,
        )

    def api_key(self, api_key_id: str) -> ApiKeyRow | None:
        return self.one_as(ApiKeyRow, "SELECT * FROM api_keys WHERE api_key_id = ?", api_key_id)

    # images

    def image(self, image_id: str) -> ImageRow | None:
        return self.one_as(ImageRow, "SELECT * FROM images WHERE image_id = ?", image_id)

    def chutes_using_image(self, image_id: str) -> list[dict[str, Any]]:
        return self.all("SELECT chute_id, name FROM chutes WHERE image_id = ?", image_id)

    # chutes

    def chute(self, chute_id: str) -> ChuteRow | None:
        return self.one_as(ChuteRow, "SELECT * FROM chutes WHERE chute_id = ?", chute_id)

    def shared_with(self, chute_id: str, user_id: str) -> bool:
        return bool(
            self.one(
                "SELECT 1 AS x FROM shares WHERE chute_id = ? AND shared_to = ?",
                chute_id,
                user_id,
            )
        )

    def instances(self, chute_id: str) -> list[InstanceRow]:
        return self.all_as(
            InstanceRow,
            "SELECT * FROM instances WHERE chute_id = ? ORDER BY created_at, instance_id",
            chute_id,
        )

    def instances_for(self, chute_ids: list[str]) -> dict[str, list[InstanceRow]]:
        """Instances of many chutes in one query, keyed by chute id."""
        found: dict[str, list[InstanceRow]] = {chute_id: [] for chute_id in chute_ids}
        if not chute_ids:
            return found
        marks = ",".join("?" * len(chute_ids))
        for row in self.all_as(
            InstanceRow,
            f"SELECT * FROM instances WHERE chute_id IN ({marks}) ORDER BY created_at",
            *chute_ids,
        ):
            found[row["chute_id"]].append(row)
        return found

    def instance(self, instance_id: str) -> InstanceRow | None:
        return self.one_as(
            InstanceRow, "SELECT * FROM instances WHERE instance_id = ?", instance_id
        )
