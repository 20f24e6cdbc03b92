"""Feedback on predictions: the record, its durable local store, and the training file made from it.

Every "Is this correct?" answer becomes a `FeedbackRecord`: the task, the model version, what the model
said and how sure it was, the right label, and the 28x28 model input (so retraining sees exactly what the
model saw). The store is one SQLite file in the data folder, in WAL mode with a busy timeout, so
concurrent requests and several processes can write safely; the original upload is kept beside it.

The same file holds the outbox of remote sinks (the Google Sheet, `handwriting.sheets`): storing a record
and queuing it for the sheet happen in ONE transaction, so a crash never leaves a record stored but not
queued, or queued but not stored. Senders work from the outbox in the background; nothing here talks to
the network, and nothing here imports Gradio (training scripts read this module too).
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image

from handwriting.labels import labels_for
from handwriting.preprocessing import to_model_input
from handwriting.text import shorten

DB_FILE = "feedback.sqlite3"
ORIGINALS_DIR = "feedback_originals"
SOURCES = ("app", "api", "game")  # where a record came from: the page, the API, the drawing game
# The sheet's columns, in order. The first must stay the record id: senders read it back to stay idempotent.
SHEET_COLUMNS = (
    "id", "time_utc", "task", "model_version", "predicted", "confidence",
    "correct", "was_correct", "source", "image_28x28_png_base64",
)


class InvalidFeedbackError(ValueError):
    """The feedback cannot be accepted as sent (a label outside the task, an image too large...); for the user."""


class FeedbackStorageError(RuntimeError):
    """The local store cannot be written (disk full, folder not writable); nothing was stored."""


# ---------------------------------------------------------------------------------------------------
# The record


@dataclass(frozen=True)
class FeedbackRecord:
    id: str
    created_at: str  # UTC, ISO 8601 with a Z
    task: str
    model_version: str
    predicted: str
    confidence: float  # the model's probability for `predicted`
    correct: str
    source: str  # one of SOURCES
    image_png_b64: str  # the 28x28 model input, white ink on black, as a base64 PNG (~300 characters)
    original_file: str = ""  # the upload as sent, relative to the data folder; kept locally only

    @property
    def was_correct(self) -> bool:
        return self.predicted == self.correct

    def pixels(self) -> np.ndarray:
        """The 28x28 uint8 image (white ink on black, MNIST convention)."""
        return decode_png(self.image_png_b64)

    def sheet_row(self) -> list:
        """One row of the sheet, in SHEET_COLUMNS order."""
        return [self.id, self.created_at, self.task, self.model_version, self.predicted,
                round(self.confidence, 6), self.correct, self.was_correct, self.source, self.image_png_b64]

    @classmethod
    def from_sheet_row(cls, row: dict[str, str]) -> "FeedbackRecord":
        """A record read back from the sheet ({column: text}); raises ValueError for a malformed row."""
        text = {k: "" if v is None else str(v).strip() for k, v in row.items()}
        record = cls(
            id=text["id"], created_at=text["time_utc"], task=text["task"], model_version=text["model_version"],
            predicted=text["predicted"], confidence=float(text["confidence"] or "nan"), correct=text["correct"],
            source=text["source"], image_png_b64=text["image_28x28_png_base64"],
        )
        labels = labels_for(record.task)
        if not record.id or record.correct not in labels or record.pixels().shape != (28, 28):
            raise ValueError(f"malformed feedback row {record.id!r}")
        return record

    def as_flag_data(self) -> list:
        """The record as a FlaggingCallback's `flag_data`: the field values in declaration order."""
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def from_flag_data(cls, flag_data: Sequence) -> "FeedbackRecord":
        return cls(*flag_data)


def encode_png(pixels: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def check_label(label, task: str, role: str = "correct") -> str:
    """`label` if it is one of the task's labels; InvalidFeedbackError saying which are, otherwise."""
    labels = labels_for(task)
    if label is not None and not isinstance(label, str):
        raise InvalidFeedbackError(f"The {role} label must be text, not {type(label).__name__}.")
    text = (label or "").strip()
    if not text:
        raise InvalidFeedbackError(f"No {role} label was given: choose one of {_label_list(labels)}.")
    if text not in labels:
        raise InvalidFeedbackError(f"{shorten(text)!r} is not a label of the {task} task: choose one of {_label_list(labels)}.")
    return text


def check_confidence(confidence) -> float:
    """A model's probability: a number in [0, 1] (NaN and 1e300 are not)."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise InvalidFeedbackError("The confidence must be a probability between 0 and 1.")
    return value


REQUEST_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_request_key(key) -> str | None:
    """An API caller's idempotency key (None: none given); InvalidFeedbackError if malformed."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not REQUEST_KEY.fullmatch(key):
        raise InvalidFeedbackError("The Idempotency-Key must be 1 to 128 letters, digits or . _ : - characters.")
    return key


def _label_list(labels: Sequence[str]) -> str:
    return ", ".join(labels) if len(labels) <= 12 else f"{', '.join(labels[:3])}, ..., {labels[-1]} ({len(labels)} labels)"


@dataclass(frozen=True)
class Original:
    """The upload as it was sent, kept locally beside the store (too big for a sheet cell)."""

    data: bytes
    extension: str


def make_record(image, task: str, predicted, correct, *, confidence: float | None = None,
                model_version: str | None = None, source: str = "api",
                max_bytes: int | None = None) -> tuple[FeedbackRecord, Original | None]:
    """Validate one piece of feedback and build its record. Nothing is stored here.

    Without `confidence` / `model_version` (an API caller does not know them) the task's current model
    supplies them: its version, and its probability for `predicted` on this image. Raises
    UnknownTaskError, InvalidFeedbackError, InvalidImageError (blank, damaged, too large...) or
    ModelUnavailableError, each with a message for the user.
    """
    labels = labels_for(task)
    predicted = check_label(predicted, task, "predicted")
    correct = check_label(correct, task, "correct")
    if source not in SOURCES:
        raise InvalidFeedbackError(f"Unknown feedback source {source!r}: one of {', '.join(SOURCES)}.")
    _check_file_size(image, max_bytes)
    x = to_model_input(image)
    if confidence is None or model_version is None:
        from handwriting.recognizer import get_recognizer  # loads the model: not needed for the UI path

        recognizer = get_recognizer(task)
        model_version = model_version or recognizer.record.version
        if confidence is None:
            confidence = float(recognizer.probabilities(x)[labels.index(predicted)])
    confidence = check_confidence(confidence)
    record = FeedbackRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        task=task,
        model_version=str(model_version),
        predicted=predicted,
        confidence=confidence,
        correct=correct,
        source=source,
        image_png_b64=encode_png(np.round(x * 255).astype(np.uint8)),
    )
    return record, read_original(image)


def _check_file_size(image, max_bytes: int | None) -> None:
    if max_bytes is None:
        return
    if isinstance(image, dict):
        image = image.get("composite") or image.get("background")
    size = None
    if isinstance(image, (bytes, bytearray, memoryview)):
        size = len(image)
    elif isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        size = Path(image).stat().st_size
    if size is not None and size > max_bytes:
        raise InvalidFeedbackError(
            f"The image file is too large ({size / 2**20:.1f} MB): at most {max_bytes / 2**20:.0f} MB are accepted."
        )


def read_original(image) -> Original | None:
    """The bytes of what the user sent (a sketch: its composite, else its background), or None."""
    if isinstance(image, dict):
        image = image.get("composite") or image.get("background")
    data = None
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        data = Path(image).read_bytes()
    elif isinstance(image, (Image.Image, np.ndarray)):
        try:
            buf = io.BytesIO()
            (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, format="PNG")
            data = buf.getvalue()
        except (TypeError, ValueError, OSError):
            return None  # an array PIL cannot write: the 28x28 is still stored
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "bin").lower()
    except Exception:
        fmt = "bin"
    return Original(data, {"jpeg": "jpg"}.get(fmt, fmt))


# ---------------------------------------------------------------------------------------------------
# The store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted TEXT NOT NULL,
    confidence REAL NOT NULL,
    correct TEXT NOT NULL,
    was_correct INTEGER NOT NULL,
    source TEXT NOT NULL,
    image_png_b64 TEXT NOT NULL,
    original_file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_by_task ON feedback (task, created_at);
-- records waiting for a remote sink; in_doubt: a send may have landed (timeout, 5xx), check before resending
CREATE TABLE IF NOT EXISTS outbox (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES feedback (id),
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    parked INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sink, record_id)
);
CREATE TABLE IF NOT EXISTS delivered (
    sink TEXT NOT NULL,
    record_id TEXT NOT NULL,
    delivered_at REAL NOT NULL,
    PRIMARY KEY (sink, record_id)
);
-- API callers' idempotency keys: a retried /feedback with the same key answers with the first record
CREATE TABLE IF NOT EXISTS request_keys (
    key TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
-- which process may send to a sink, so two processes sharing this file never send the same record
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

_RECORD_COLUMNS = [f.name for f in fields(FeedbackRecord)]
BUSY_TIMEOUT_S = 30  # how long a writer waits for another process holding the store


def _is_busy(exc: Exception) -> bool:
    """Another connection holds the lock: worth trying again."""
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


@dataclass(frozen=True)
class Queued:
    """A record waiting in a sink's outbox."""

    record: FeedbackRecord
    attempts: int
    in_doubt: bool


class FeedbackStore:
    """The feedback records and the remote sinks' outbox, in one SQLite file under `folder`.

    One connection per store, guarded by a lock; `transaction()` nests, so several sinks writing one
    record join a single transaction. Use `open_store(folder)` to share one instance per folder.
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.path = self.folder / DB_FILE
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            deadline = time.monotonic() + BUSY_TIMEOUT_S
            while self._conn is None:
                try:
                    self._conn = self._open()
                except (OSError, sqlite3.Error) as exc:
                    # Switching to WAL and creating the schema take locks that SQLite does not always wait
                    # for (the busy handler is skipped while another process is creating the same file):
                    # a second process starting at the same moment sees "database is locked" and retries.
                    if not (_is_busy(exc) and time.monotonic() < deadline):
                        raise FeedbackStorageError(f"The feedback store {self.path} cannot be opened: {exc}") from exc
                    time.sleep(0.01)
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a confirmed correction survives a power cut
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def transaction(self):
        """One write transaction (BEGIN IMMEDIATE); nested calls join the outermost one."""
        with self._lock:
            conn = self._connection()
            outer = self._depth == 0
            if outer:
                conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._after_commit.clear()
                    conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    self._after_commit.clear()
                    conn.execute("ROLLBACK")
                    raise
                callbacks, self._after_commit = self._after_commit, []
                for callback in callbacks:
                    callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current transaction commits (at once outside a transaction)."""
        with self._lock:
            if self._depth:
                self._after_commit.append(callback)
                return
        callback()

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._connection().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with _stores_lock:
            if _stores.get(self.path.resolve()) is self:
                del _stores[self.path.resolve()]

    # records ---------------------------------------------------------------------------------------

    def insert(self, record: FeedbackRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO feedback ({', '.join(_RECORD_COLUMNS)}, was_correct) "
                f"VALUES ({', '.join('?' * len(_RECORD_COLUMNS))}, ?)",
                (*record.as_flag_data(), int(record.was_correct)),
            )

    def save_original(self, record_id: str, original: Original) -> str:
        """Write the upload durably (temporary file, fsync, rename); returns its path in the data folder."""
        if not re.fullmatch(r"[0-9a-f]{32}", record_id) or not re.fullmatch(r"[a-z0-9]{1,8}", original.extension):
            raise ValueError("unexpected record id or extension")
        name = f"{ORIGINALS_DIR}/{record_id[:2]}/{record_id}.{original.extension}"
        path = self.folder / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            with open(tmp, "wb") as f:
                f.write(original.data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise FeedbackStorageError(f"The upload could not be saved in {self.folder}: {exc.strerror or exc}") from exc
        return name

    def discard_original(self, name: str) -> None:
        if name:
            (self.folder / name).unlink(missing_ok=True)

    def remove_orphan_originals(self, older_than_s: float = 600) -> int:
        """Delete saved uploads that no record names (a crash between saving the upload and committing
        its record leaves one), once they are old enough that no request can still be committing them."""
        folder = self.folder / ORIGINALS_DIR
        if not folder.is_dir():
            return 0
        named = {row[0] for row in self._query("SELECT original_file FROM feedback WHERE original_file != ''")}
        cutoff = time.time() - older_than_s
        removed = 0
        for path in folder.glob("*/*"):
            name = path.relative_to(self.folder).as_posix()
            try:
                if name not in named and path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
        return removed

    def record_for_key(self, key: str) -> FeedbackRecord | None:
        """The record stored under an API caller's idempotency key, if any."""
        rows = self._query("SELECT record_id FROM request_keys WHERE key = ?", [key])
        return self.get(rows[0][0]) if rows else None

    def claim_key(self, key: str, record_id: str) -> str:
        """In a transaction: file `record_id` under `key`, or return the id filed there before."""
        with self.transaction() as conn:
            row = conn.execute("SELECT record_id FROM request_keys WHERE key = ?", (key,)).fetchone()
            if row:
                return row[0]
            conn.execute("INSERT INTO request_keys (key, record_id, created_at) VALUES (?, ?, ?)",
                         (key, record_id, time.time()))
            return record_id

    def get(self, record_id: str) -> FeedbackRecord | None:
        rows = self._query(f"SELECT {', '.join(_RECORD_COLUMNS)} FROM feedback WHERE id = ?", [record_id])
        return FeedbackRecord(*rows[0]) if rows else None

    def records(self, task: str | None = None) -> list[FeedbackRecord]:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        rows = self._query(f"SELECT {', '.join(_RECORD_COLUMNS)} FROM feedback {where} ORDER BY created_at, id", params)
        return [FeedbackRecord(*row) for row in rows]

    def count(self, task: str | None = None) -> int:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        return self._query(f"SELECT COUNT(*) FROM feedback {where}", params)[0][0]

    # the outbox --------------------------------------------------------------------------------------

    def enqueue(self, sink: str, record_id: str) -> None:
        """Queue a stored record for `sink` (no-op if it is queued or delivered already)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO outbox (sink, record_id, queued_at) "
                "SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE sink = ? AND record_id = ?)",
                (sink, record_id, time.time(), sink, record_id),
            )

    def due(self, sink: str, limit: int, now: float | None = None) -> list[Queued]:
        """The oldest records whose next attempt is due, at most `limit`."""
        cols = ", ".join(f"f.{c}" for c in _RECORD_COLUMNS)
        rows = self._query(
            f"SELECT {cols}, o.attempts, o.in_doubt FROM outbox o JOIN feedback f ON f.id = o.record_id "
            "WHERE o.sink = ? AND o.parked = 0 AND o.next_attempt_at <= ? ORDER BY o.queued_at, o.rowid LIMIT ?",
            (sink, time.time() if now is None else now, limit),
        )
        n = len(_RECORD_COLUMNS)
        return [Queued(FeedbackRecord(*row[:n]), row[n], bool(row[n + 1])) for row in rows]

    def next_due_in(self, sink: str) -> float | None:
        """Seconds until the next queued record is due (0 if one is due now), None if none waits."""
        row = self._query("SELECT MIN(next_attempt_at) FROM outbox WHERE sink = ? AND parked = 0", [sink])[0]
        return None if row[0] is None else max(0.0, row[0] - time.time())

    def mark_in_doubt(self, sink: str, ids: Sequence[str]) -> None:
        """Before a send: from now on a crash or an unclear answer means "it may have landed"."""
        self._update_outbox(sink, ids, "in_doubt = 1, attempts = attempts + 1")

    def mark_retry(self, sink: str, ids: Sequence[str], delay: float, error: str, in_doubt: bool | None) -> None:
        """Try again in `delay` seconds; `in_doubt=None` keeps what was known (nothing was sent this time)."""
        self._update_outbox(sink, ids, "in_doubt = COALESCE(?, in_doubt), next_attempt_at = ?, last_error = ?",
                            [None if in_doubt is None else int(in_doubt), time.time() + delay, error[:500]])

    def park(self, sink: str, record_id: str, error: str) -> None:
        """Stop sending a record the sink refuses outright (kept locally; `status` lists it)."""
        self._update_outbox(sink, [record_id], "parked = 1, in_doubt = 0, last_error = ?", [error[:500]])

    def mark_delivered(self, sink: str, ids: Sequence[str]) -> None:
        with self.transaction() as conn:
            now = time.time()
            conn.executemany("INSERT OR IGNORE INTO delivered (sink, record_id, delivered_at) VALUES (?, ?, ?)",
                             [(sink, i, now) for i in ids])
            conn.executemany("DELETE FROM outbox WHERE sink = ? AND record_id = ?", [(sink, i) for i in ids])

    def _update_outbox(self, sink: str, ids: Sequence[str], assignments: str, values: Sequence = ()) -> None:
        with self.transaction() as conn:
            conn.executemany(f"UPDATE outbox SET {assignments} WHERE sink = ? AND record_id = ?",
                             [(*values, sink, i) for i in ids])

    def outbox_counts(self, sink: str) -> dict[str, int]:
        """{"waiting", "in_doubt", "parked", "delivered"} for a sink."""
        waiting, in_doubt, parked = self._query(
            "SELECT COALESCE(SUM(parked = 0), 0), COALESCE(SUM(in_doubt), 0), COALESCE(SUM(parked), 0) "
            "FROM outbox WHERE sink = ?", [sink])[0]
        delivered = self._query("SELECT COUNT(*) FROM delivered WHERE sink = ?", [sink])[0][0]
        return {"waiting": waiting, "in_doubt": in_doubt, "parked": parked, "delivered": delivered}

    def waiting(self, sink: str) -> int:
        return self._query("SELECT COUNT(*) FROM outbox WHERE sink = ? AND parked = 0", [sink])[0][0]

    def last_errors(self, sink: str, limit: int = 5) -> list[tuple[str, str]]:
        return self._query("SELECT record_id, last_error FROM outbox WHERE sink = ? AND last_error != '' "
                           "ORDER BY parked DESC, queued_at LIMIT ?", [sink, limit])

    # leases ------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, seconds: float, owner_alive: Callable[[str], bool]) -> bool:
        """Hold `name` for `seconds` unless another live owner holds it; renews one's own lease."""
        with self.transaction() as conn:
            row = conn.execute("SELECT owner, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row and row[0] != owner and row[1] > time.time() and owner_alive(row[0]):
                return False
            conn.execute("INSERT OR REPLACE INTO leases (name, owner, expires_at) VALUES (?, ?, ?)",
                         (name, owner, time.time() + seconds))
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


_stores: dict[Path, FeedbackStore] = {}
_stores_lock = threading.Lock()


def open_store(folder: Path | str) -> FeedbackStore:
    """The one FeedbackStore of a folder in this process (sinks share it to share transactions)."""
    key = (Path(folder) / DB_FILE).resolve()
    with _stores_lock:
        if key not in _stores:
            _stores[key] = FeedbackStore(folder)
        return _stores[key]


# ---------------------------------------------------------------------------------------------------
# The training file: what the retraining pipeline reads


@dataclass
class TrainingSet:
    task: str
    x: np.ndarray  # uint8 N x 28 x 28, white ink on black (MNIST convention)
    y: np.ndarray  # int64 N, indices into `labels` (the right answers)
    labels: tuple[str, ...]  # the task's labels, in model output order
    ids: np.ndarray  # str N, feedback record ids
    source: np.ndarray  # str N, "app" / "api" / "game"
    was_correct: np.ndarray  # bool N, whether the model had it right

    def __len__(self) -> int:
        return len(self.y)


def training_set(records: Iterable[FeedbackRecord], task: str) -> TrainingSet:
    """The task's records (first of each id, in the order given) as arrays for training."""
    labels = labels_for(task)
    seen: set[str] = set()
    chosen = []
    for r in records:
        if r.task == task and r.id not in seen:
            seen.add(r.id)
            chosen.append(r)
    return TrainingSet(
        task=task,
        x=np.stack([r.pixels() for r in chosen]).astype(np.uint8) if chosen else np.zeros((0, 28, 28), np.uint8),
        y=np.array([labels.index(r.correct) for r in chosen], dtype=np.int64),
        labels=labels,
        ids=np.array([r.id for r in chosen], dtype=str),
        source=np.array([r.source for r in chosen], dtype=str),
        was_correct=np.array([r.was_correct for r in chosen], dtype=bool),
    )


def save_training_file(path: Path | str, data: TrainingSet) -> Path:
    """Write `data` as the retraining pipeline's .npz (keys x, y, labels, task, ids, source, was_correct)."""
    n = len(data.y)
    if data.x.shape != (n, 28, 28) or data.x.dtype != np.uint8:
        raise ValueError(f"x must be uint8 N x 28 x 28, got {data.x.dtype} {data.x.shape}")
    if not all(len(a) == n for a in (data.ids, data.source, data.was_correct)):
        raise ValueError("x, y, ids, source and was_correct must have the same length")
    if n and (data.y.min() < 0 or data.y.max() >= len(data.labels)):
        raise ValueError("y holds an index outside labels")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # a file object: numpy would otherwise append ".npz" to the name
        np.savez_compressed(
            f, x=data.x, y=data.y.astype(np.int64), labels=np.array(list(data.labels)), task=np.array(data.task),
            ids=np.array(data.ids, dtype=str), source=np.array(data.source, dtype=str),
            was_correct=np.array(data.was_correct, dtype=bool),
        )
    os.replace(tmp, path)
    return path


def load_training_file(path: Path | str) -> TrainingSet:
    with np.load(path, allow_pickle=False) as d:
        return TrainingSet(
            task=str(d["task"]), x=d["x"], y=d["y"].astype(np.int64), labels=tuple(str(s) for s in d["labels"]),
            ids=d["ids"], source=d["source"], was_correct=d["was_correct"].astype(bool),
        )
