"""Copying feedback to a Google Sheet: credentials, the worksheet, and the background sender.

The page never waits on Google. A record is stored locally and queued in the outbox in one transaction
(`handwriting.feedback.database`); `SheetsSender`, a background thread, appends queued records in batches with
gspread's `Worksheet.append_rows`, keeps under the API quota (60 writes a minute per user) and backs off
on 429s, 5xx, timeouts and outages. Nothing is lost: the outbox is on disk and survives restarts and
crashes. Nothing is sent twice: a batch is marked "in doubt" before it is sent; when the answer is
unclear (a timeout, a 5xx, a dropped connection, a crash) the sender reads the sheet's id column before
sending again and skips the records that landed.

Credentials: a service-account JSON key, from GOOGLE_SERVICE_ACCOUNT_JSON (its content) or
GOOGLE_SERVICE_ACCOUNT_FILE (its path); never logged. HANDWRITING_SHEETS_ENDPOINT (tests only) sends
every *.googleapis.com request, the OAuth token exchange included, to a local stand-in instead.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import gspread
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread.utils import ValueRenderOption

from handwriting.config import SheetsSettings
from handwriting.feedback.database import FeedbackStore, Queued
from handwriting.feedback.record import FeedbackRecord
from handwriting.tasks import labels_for

log = logging.getLogger("handwriting.sheets")

SINK = "sheets"  # the outbox name of this sink
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)  # the sheet only, not the whole Drive
REQUIRED_KEY_FIELDS = ("client_email", "private_key", "token_uri")


# The sheet's columns, in order. The first must stay the record id: senders read it back to stay idempotent.
SHEET_COLUMNS = (
    "id", "time_utc", "task", "model_version", "predicted", "confidence",
    "correct", "was_correct", "source", "image_28x28_png_base64",
)


class SheetsConfigError(RuntimeError):
    """The sheet cannot be used as configured; the message says what to fix (and holds no secret)."""


# ---------------------------------------------------------------------------------------------------
# The row codec


def sheet_row(record: FeedbackRecord) -> list:
    """One row of the sheet, in SHEET_COLUMNS order."""
    return [record.id, record.created_at, record.task, record.model_version, record.predicted,
            round(record.confidence, 6), record.correct, record.was_correct, record.source, record.image_png_b64]


def record_from_row(row: dict[str, str]) -> FeedbackRecord:
    """A record read back from the sheet ({column: text}); raises ValueError for a malformed row."""
    text = {k: "" if v is None else str(v).strip() for k, v in row.items()}
    record = FeedbackRecord(
        id=text["id"], created_at=text["time_utc"], task=text["task"], model_version=text["model_version"],
        predicted=text["predicted"], confidence=float(text["confidence"] or "nan"), correct=text["correct"],
        source=text["source"], image_png_b64=text["image_28x28_png_base64"],
    )
    if not record.id or record.correct not in labels_for(record.task) or record.pixels().shape != (28, 28):
        raise ValueError(f"malformed feedback row {record.id!r}")
    return record


# ---------------------------------------------------------------------------------------------------
# Configuration


def spreadsheet_key(key_or_url: str) -> str:
    """GOOGLE_SHEETS_KEY may be the key or the sheet's whole URL."""
    if "/" not in key_or_url:
        return key_or_url
    try:
        return gspread.utils.extract_id_from_url(key_or_url)
    except gspread.exceptions.NoValidUrlKeyFound:
        raise SheetsConfigError("GOOGLE_SHEETS_KEY is not a spreadsheet key or a Google Sheets URL.") from None


def load_credentials(cfg: SheetsSettings) -> service_account.Credentials:
    """The service account's credentials; SheetsConfigError saying what is wrong, without its content."""
    if cfg.service_account_json:
        source, text = "GOOGLE_SERVICE_ACCOUNT_JSON", cfg.service_account_json
    elif cfg.service_account_file:
        source = f"the service-account file {cfg.service_account_file}"
        try:
            text = Path(cfg.service_account_file).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SheetsConfigError(f"{source} cannot be read ({type(exc).__name__}).") from None
    else:
        raise SheetsConfigError(
            "GOOGLE_SHEETS_KEY is set but no service account is: set GOOGLE_SERVICE_ACCOUNT_FILE (a path) "
            "or GOOGLE_SERVICE_ACCOUNT_JSON (the key's content)."
        )
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SheetsConfigError(f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}).") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SheetsConfigError(f"{source} is not a service-account key: create a JSON key for a service account.")
    missing = [k for k in REQUIRED_KEY_FIELDS if not info.get(k)]
    if missing:
        raise SheetsConfigError(f"{source} lacks {', '.join(missing)}: download the service account's JSON key again.")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, TypeError):
        raise SheetsConfigError(f"The private key in {source} cannot be read: download the JSON key again.") from None


def _redirected(url: str, endpoint: str) -> str:
    parts = urlsplit(url)
    if (parts.hostname or "").endswith("googleapis.com"):
        return endpoint + parts.path + (f"?{parts.query}" if parts.query else "")
    return url


class _RedirectingSession(requests.Session):
    """A requests session that sends *.googleapis.com requests to `endpoint` (google-auth's token calls)."""

    def __init__(self, endpoint: str):
        super().__init__()
        self.endpoint = endpoint

    def request(self, method, url, *args, **kwargs):
        return super().request(method, _redirected(url, self.endpoint), *args, **kwargs)


class _RedirectingAuthorizedSession(AuthorizedSession):
    """google-auth's AuthorizedSession (JWT grant, token refresh, 401 retry) talking to `endpoint`."""

    def __init__(self, credentials, endpoint: str):
        super().__init__(credentials, auth_request=Request(_RedirectingSession(endpoint)))
        self.endpoint = endpoint

    def request(self, method, url, *args, **kwargs):
        return super().request(method, _redirected(url, self.endpoint), *args, **kwargs)


def open_worksheet(cfg: SheetsSettings, credentials=None, create: bool = True) -> gspread.Worksheet:
    """The feedback worksheet, with its header row; with `create`, made if missing (never for reading)."""
    credentials = credentials or load_credentials(cfg)
    if cfg.endpoint:
        session = _RedirectingAuthorizedSession(credentials, cfg.endpoint)
    else:
        session = AuthorizedSession(credentials)
    client = gspread.Client(None, session=session)
    client.set_timeout(cfg.timeout_s)
    spreadsheet = client.open_by_key(spreadsheet_key(cfg.key))
    try:
        worksheet = spreadsheet.worksheet(cfg.worksheet)
    except gspread.exceptions.WorksheetNotFound:
        if not create:
            raise SheetsConfigError(f"The spreadsheet has no worksheet {cfg.worksheet!r}.") from None
        worksheet = spreadsheet.add_worksheet(cfg.worksheet, rows=1000, cols=len(SHEET_COLUMNS))
        log.info("created worksheet %r in the feedback spreadsheet", cfg.worksheet)
    header = worksheet.row_values(1)
    if not header and create:
        worksheet.update([list(SHEET_COLUMNS)], "A1", value_input_option="RAW")
    elif header and header[: len(SHEET_COLUMNS)] != list(SHEET_COLUMNS):
        raise SheetsConfigError(
            f"Worksheet {cfg.worksheet!r} has other columns ({', '.join(map(str, header[:4]))}...): "
            "give GOOGLE_SHEETS_WORKSHEET an empty or new worksheet."
        )
    return worksheet


def read_sheet_records(cfg: SheetsSettings) -> tuple[list[FeedbackRecord], int]:
    """Every record in the sheet (first of each id) and how many rows could not be read."""
    rows = open_worksheet(cfg, create=False).get_all_values(value_render_option=ValueRenderOption.unformatted)
    if not rows:
        return [], 0
    header = [str(h) for h in rows[0]]
    records, bad, seen = [], 0, set()
    for row in rows[1:]:
        try:
            record = record_from_row(dict(zip(header, row)))
        except (KeyError, ValueError, OSError):
            bad += 1
            continue
        if record.id not in seen:
            seen.add(record.id)
            records.append(record)
    return records, bad


# ---------------------------------------------------------------------------------------------------
# The background sender


@dataclass(frozen=True)
class Failure:
    """What a failed step means for the records it carried."""

    what: str  # for the log and `status`
    maybe_applied: bool | None = False  # could the append have landed? None: unknown (counts as yes)
    setup_problem: bool = False  # access, key or sheet: retried slowly until someone fixes it
    rows_refused: bool = False  # the API rejects the rows themselves (a 4xx on the append)
    retry_after: float | None = None  # seconds the server asked for


def describe_failure(exc: BaseException) -> Failure:
    if isinstance(exc, gspread.exceptions.APIError):
        status = exc.response.status_code
        message = str(exc.error.get("message", ""))[:200]
        if status == 429:
            after = exc.response.headers.get("Retry-After", "")
            return Failure("rate limited by the Sheets API (429)", retry_after=float(after) if after.isdigit() else None)
        if status in (401, 403):
            return Failure(f"the service account may not write to this sheet ({status}: {message})", setup_problem=True)
        if status == 404:
            return Failure(f"the spreadsheet was not found ({message}): check GOOGLE_SHEETS_KEY", setup_problem=True)
        if 400 <= status < 500 and status != 408:
            return Failure(f"the Sheets API refused the rows ({status}: {message})", rows_refused=True)
        return Failure(f"Sheets API error {status}", maybe_applied=True)
    if isinstance(exc, PermissionError):  # gspread's open_by_key on a 403
        return Failure("the service account may not open this sheet: share it with the service account as Editor",
                       setup_problem=True)
    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return Failure("the spreadsheet was not found: check GOOGLE_SHEETS_KEY", setup_problem=True)
    if isinstance(exc, SheetsConfigError):
        return Failure(str(exc), setup_problem=True)
    if isinstance(exc, auth_exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return Failure("the token endpoint is failing")
        return Failure("Google refused the service account's credentials (see the key and the account)",
                       setup_problem=True)
    if isinstance(exc, auth_exceptions.TransportError):  # raised before the Sheets request is sent
        return Failure("the token endpoint cannot be reached")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("the Sheets API cannot be reached (connect timeout)")
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure("the Sheets API did not answer in time", maybe_applied=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        refused = "NewConnectionError" in repr(exc.args[0] if exc.args else exc)  # nothing was sent
        return Failure("the Sheets API cannot be reached" + (" (refused)" if refused else ""), maybe_applied=not refused)
    return Failure(f"unexpected {type(exc).__name__}", maybe_applied=None)


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust its lease until it expires
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_running: dict[Path, "SheetsSender"] = {}
_running_lock = threading.Lock()


class SheetsSender:
    """Sends one store's queued records to the sheet, from a background thread.

    `run_once()` does one step (read back ids if needed, send one batch) and says how long to wait;
    the thread repeats it, woken early by `wake()` when a record is queued. One sender per store
    per process (`start` hands back the running one); a lease in the store keeps a second process
    from sending the same records.
    """

    def __init__(self, store: FeedbackStore, cfg: SheetsSettings, credentials=None):
        self.store = store
        self.cfg = cfg
        self._credentials = credentials
        self._worksheet: gspread.Worksheet | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._solo = 0  # send this many records one at a time (to single out one the API refuses)
        self._next_send = 0.0  # time.monotonic() before which no request is sent (quota pacing)
        self._lease_until = 0.0
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.state = "starting"  # "ok", "retrying" or "misconfigured"
        self.problem = ""
        self.stats: Counter = Counter()  # rows sent, rows found already in the sheet, failures

    # the thread ----------------------------------------------------------------------------------------

    def start(self) -> "SheetsSender":
        """Start sending; if this process already sends this store's records, that sender is returned."""
        key = self.store.path.resolve()
        with _running_lock:
            other = _running.get(key)
            if other is not None and other.alive:
                if other.cfg.key != self.cfg.key or other.cfg.worksheet != self.cfg.worksheet:
                    log.warning("this store's records already go to another sheet; not starting a second sender")
                return other
            _running[key] = self
            self._thread = threading.Thread(target=self._loop, name="sheets-sender", daemon=True)
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step; what is still queued stays queued, on disk."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with _running_lock:
            if _running.get(self.store.path.resolve()) is self:
                del _running[self.store.path.resolve()]
        try:
            self.store.release_lease(SINK, self.owner)
        except Exception:  # the store may be unusable; the lease then just expires
            pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception as exc:  # a bug or the store failing: log it, keep the thread alive
                log.exception("the Sheets sender failed a step: %s", type(exc).__name__)
                wait = self._backoff()
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
        self.state = "stopped"

    # one step ------------------------------------------------------------------------------------------

    def run_once(self) -> float:
        """Send at most one batch; returns the seconds to wait before the next step."""
        if not self._hold_lease():
            return max(self.cfg.idle_poll_s, 1.0)
        batch = self.store.due(SINK, 1 if self._solo else self.cfg.batch_size)
        if not batch:
            due_in = self.store.next_due_in(SINK)
            return self.cfg.idle_poll_s if due_in is None else min(max(due_in, 0.01), self.cfg.idle_poll_s)
        pause = self._next_send - time.monotonic()
        if pause > 0:
            return pause
        sent = False
        try:
            worksheet = self._open()
            if any(q.in_doubt for q in batch):
                batch = self._skip_landed(worksheet, batch)
                if not batch:
                    return 0.0
            self.store.mark_in_doubt(SINK, [q.record.id for q in batch])
            sent = True
            self._pace()
            worksheet.append_rows([sheet_row(q.record) for q in batch], value_input_option="RAW",
                                  insert_data_option="INSERT_ROWS", table_range="A1")
        except Exception as exc:
            return self._failed(batch, exc, sent)
        self.store.mark_delivered(SINK, [q.record.id for q in batch])
        self.stats["sent"] += len(batch)
        self._solo = max(0, self._solo - 1)
        self._succeeded()
        return 0.0

    def _open(self) -> gspread.Worksheet:
        if self._worksheet is None:
            self._pace()
            self._worksheet = open_worksheet(self.cfg, self._credentials)
        return self._worksheet

    def _skip_landed(self, worksheet: gspread.Worksheet, batch: list[Queued]) -> list[Queued]:
        """After an unclear answer: read the id column, mark what landed as delivered, keep the rest."""
        self._pace()
        present = set(map(str, worksheet.col_values(1)))
        landed = [q.record.id for q in batch if q.record.id in present]
        if landed:
            self.store.mark_delivered(SINK, landed)
            self.stats["found_in_sheet"] += len(landed)
            log.info("%d feedback records had reached the sheet despite an unclear answer", len(landed))
        self.stats["id_checks"] += 1
        return [q for q in batch if q.record.id not in present]

    def _pace(self) -> None:
        """Space requests evenly under the quota (each call books the next slot)."""
        now = time.monotonic()
        self._next_send = max(now, self._next_send) + 60.0 / max(self.cfg.writes_per_minute, 1e-6)

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        lease_s = max(60.0, 4 * self.cfg.timeout_s + 10)
        if now < self._lease_until - lease_s * 2 / 3:
            return True  # renewed recently
        if self.store.acquire_lease(SINK, self.owner, lease_s, _owner_alive):
            self._lease_until = now + lease_s
            return True
        self.state, self.problem = "retrying", "another process is sending this store's feedback"
        return False

    def _succeeded(self) -> None:
        if self.state != "ok" and self._failures:
            log.info("feedback reaches the Google Sheet again")
        self._failures = 0
        self.state, self.problem = "ok", ""

    def _failed(self, batch: list[Queued], exc: Exception, sent: bool) -> float:
        """Reschedule the batch after a failure; `sent`: the append itself was attempted."""
        failure = describe_failure(exc)
        if failure.maybe_applied is None:
            log.warning("unexpected error from the Sheets client", exc_info=exc)
        ids = [q.record.id for q in batch]
        self.stats["failures"] += 1
        self._failures += 1
        delay = max(self._backoff(), failure.retry_after or 0.0)
        in_doubt = (failure.maybe_applied is not False) if sent else None  # None: nothing new is known
        if in_doubt:
            delay = max(delay, min(self.cfg.timeout_s, self.cfg.retry_max_s))  # let a straggler land first
        if failure.setup_problem or isinstance(exc, (requests.exceptions.ConnectionError, auth_exceptions.TransportError)):
            self._worksheet = None  # reopen (and recheck access) next time
        if sent and failure.rows_refused:
            if len(batch) > 1:  # one bad record must not hold the others back: send them one by one
                self._solo = len(batch)
                delay = 0.0
            else:
                self.store.park(SINK, ids[0], failure.what)
                log.error("the Sheets API refuses feedback record %s; it is kept locally only: %s", ids[0], failure.what)
                return 0.0
        self.store.mark_retry(SINK, ids, delay, failure.what, in_doubt)
        # one line per new problem, not per retry (a rate-limit storm must not flood the log)
        level = logging.DEBUG if failure.what == self.problem else logging.ERROR if failure.setup_problem else logging.WARNING
        log.log(level, "feedback not sent to the Google Sheet (%s); %d records wait, retrying in %.1f s",
                failure.what, len(ids), delay)
        self.state = "misconfigured" if failure.setup_problem else "retrying"
        self.problem = failure.what
        return 0.0

    def _backoff(self) -> float:
        """Exponential, capped, with jitter so restarted processes do not retry in step."""
        base = min(self.cfg.retry_max_s, self.cfg.retry_base_s * 2 ** max(self._failures - 1, 0))
        return base * random.uniform(0.5, 1.0)
