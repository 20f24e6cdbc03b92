"""The Google Sheets sink: credentials, the worksheet, the row codec, and what Google's errors mean.

The page never waits on Google: a record is queued in the store's outbox in the same transaction that
stores it, and the generic `OutboxSender` (`handwriting.feedback.sender`) appends queued rows in batches
with gspread's `Worksheet.append_rows`, under the API's write quota. This module holds only what is
Google's: opening the worksheet, a record as a row and back, reading the id column after an unclear
answer, and which failures are worth retrying.

Credentials: a service-account JSON key, from GOOGLE_SERVICE_ACCOUNT_JSON (its content) or
GOOGLE_SERVICE_ACCOUNT_FILE (its path); never logged. HANDWRITING_SHEETS_ENDPOINT (tests only) sends
every *.googleapis.com request, the OAuth token exchange included, to a local stand-in instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

import gspread
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread.utils import ValueRenderOption

from handwriting.config import SheetsSettings
from handwriting.feedback.database import FeedbackStore
from handwriting.feedback.record import FeedbackRecord
from handwriting.feedback.sender import Failure, OutboxSender
from handwriting.feedback.sinks import OutboxSink, SinkConfigError
from handwriting.tasks import get_task

log = logging.getLogger("handwriting.sheets")

SINK = "sheets"  # the outbox name of this sink
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)  # the sheet only, not the whole Drive
REQUIRED_KEY_FIELDS = ("client_email", "private_key", "token_uri")


# The sheet's columns, in order. The first must stay the record id: senders read it back to stay idempotent.
SHEET_COLUMNS = (
    "id", "time_utc", "task", "model_version", "predicted", "confidence",
    "correct", "was_correct", "source", "image_28x28_png_base64",
)


class SheetsConfigError(SinkConfigError):
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
    if not record.id or not get_task(record.task).has(record.correct) or record.pixels().shape != (28, 28):
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
# The sink: what its background sender needs to know of Google


def describe_failure(exc: BaseException) -> Failure:
    """What an exception from gspread, google-auth or requests means for the records it carried."""
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
        return Failure("the token endpoint cannot be reached", reconnect=True)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("the Sheets API cannot be reached (connect timeout)", reconnect=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure("the Sheets API did not answer in time", maybe_applied=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        refused = "NewConnectionError" in repr(exc.args[0] if exc.args else exc)  # nothing was sent
        return Failure("the Sheets API cannot be reached" + (" (refused)" if refused else ""), maybe_applied=not refused,
                       reconnect=True)
    return Failure(f"unexpected {type(exc).__name__}", maybe_applied=None)


class SheetsDestination:
    """The feedback worksheet as a sender's `Destination`: rows appended in batches, ids read back."""

    name = SINK
    place = "the Google Sheet"

    def __init__(self, cfg: SheetsSettings, credentials=None):
        self.cfg = cfg
        self._credentials = credentials
        self._worksheet: gspread.Worksheet | None = None
        self.where = f"Google Sheet worksheet {cfg.worksheet!r} of {cfg.key}"

    def connect(self) -> None:
        self._worksheet = open_worksheet(self.cfg, self._credentials)

    def landed(self, ids: Sequence[str]) -> set[str]:
        return set(map(str, self._worksheet.col_values(1)))  # the id column, header included

    def send(self, records: Sequence[FeedbackRecord]) -> None:
        self._worksheet.append_rows([sheet_row(r) for r in records], value_input_option="RAW",
                                    insert_data_option="INSERT_ROWS", table_range="A1")

    def describe(self, exc: BaseException) -> Failure:
        return describe_failure(exc)


class SheetsSender(OutboxSender):
    """The background sender of one store's records to the sheet (see `OutboxSender`)."""

    def __init__(self, store: FeedbackStore, cfg: SheetsSettings, credentials=None):
        super().__init__(store, SheetsDestination(cfg, credentials), cfg)


class SheetsSink(OutboxSink):
    """Every record queued for the Google Sheet (on when GOOGLE_SHEETS_KEY is set)."""

    name = SINK
    title = "Google Sheets"
    place = "the Google Sheet"

    def __init__(self, cfg: SheetsSettings):
        super().__init__(cfg)

    def destination(self) -> SheetsDestination:
        spreadsheet_key(self.cfg.key)
        credentials = load_credentials(self.cfg)
        log.info("the Google Sheet is written as %s (share it with this account as Editor)",
                 credentials.service_account_email)
        return SheetsDestination(self.cfg, credentials)
