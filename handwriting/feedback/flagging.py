"""Gradio's flagging hook for feedback: one `FlaggingCallback` per sink, and the recorder that runs them.

- `LocalFeedbackLogger`: every record into the SQLite store in the data folder (always on).
- `SheetsFeedbackLogger`: queues every record for the Google Sheet; its background sender appends it
  (on when GOOGLE_SHEETS_KEY is set; with broken credentials it keeps queuing, so nothing is lost while
  someone fixes them, and says so in the log and the page).

Both are real `gr.FlaggingCallback`s: `flag` takes `[record]` from `FeedbackRecorder`, or, plugged into a
`gr.Interface(flagging_callback=...)`, the Interface's values (an image input, a Label output and, as the
flag option, the right label) and builds the record itself.

`FeedbackRecorder.submit` stores a built record through every sink's `flag` inside ONE store
transaction: a record is stored and queued together, or not at all. It returns as soon as that
transaction commits; nothing on this path waits on Google. Gradio's Blocks never call `setup`
themselves, so the recorder does, on `start()` (the app calls it at launch, not at import).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import gradio as gr

from handwriting.config import SheetsSettings, settings
from handwriting.feedback.database import FeedbackStore, open_store
from handwriting.feedback.record import (
    FeedbackRecord,
    FeedbackStorageError,
    InvalidFeedbackError,
    Original,
    ReadFeedback,
    check_request_key,
    make_record,
    request_fingerprint,
)
from handwriting.tasks import labels_for

log = logging.getLogger("handwriting.feedback")


class _FeedbackLogger(gr.FlaggingCallback):
    """What both sinks share: `setup` opens the store of `flagging_dir`; `flag` takes a record or an
    Interface's values. `task` and `model_version` describe an Interface's predictions."""

    def __init__(self, task: str = "digits", model_version: str = "unknown"):
        self.task = task
        self.model_version = model_version
        self.components: list = []
        self.store: FeedbackStore | None = None
        self.flagged = 0

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        self.components = list(components)
        self.store = open_store(flagging_dir)

    def record_of(self, flag_data: Sequence, flag_option: str | None) -> FeedbackRecord:
        if len(flag_data) == 1 and isinstance(flag_data[0], FeedbackRecord):
            return flag_data[0]
        return record_from_interface(flag_data, self.components, flag_option, self.task, self.model_version)


class LocalFeedbackLogger(_FeedbackLogger):
    """The local sink: the record into the store."""

    def flag(self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None) -> int:
        record = self.record_of(flag_data, flag_option)
        with self.store.transaction():
            self.store.insert(record, if_new=True)
        self.flagged += 1
        return self.flagged


class SheetsFeedbackLogger(_FeedbackLogger):
    """The Google Sheets sink: the record (stored if it is not yet) into the store's outbox, for the
    background sender."""

    def __init__(self, cfg: SheetsSettings, **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg
        self.sender = None
        self.problem = ""  # why the sheet cannot be used as configured, for the log and the operator

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        from handwriting.feedback.sheets import SheetsConfigError, SheetsSender, load_credentials, spreadsheet_key

        super().setup(components, flagging_dir)
        try:
            spreadsheet_key(self.cfg.key)
            credentials = load_credentials(self.cfg)
        except SheetsConfigError as exc:
            self.problem = str(exc)
            log.error("Google Sheets feedback is paused (records are kept and queued locally): %s", exc)
            return
        self.sender = SheetsSender(self.store, self.cfg, credentials).start()
        log.info("feedback is copied to Google Sheet worksheet %r as %s", self.cfg.worksheet,
                 credentials.service_account_email)

    def flag(self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None) -> int:
        from handwriting.feedback.sheets import SINK

        record = self.record_of(flag_data, flag_option)
        with self.store.transaction():
            self.store.insert(record, if_new=True)
            self.store.enqueue(SINK, record.id)
            if self.sender is not None:
                self.store.after_commit(self.sender.wake)
        self.flagged += 1
        return self.flagged

    def note(self) -> str:
        """One sentence for the person who just sent feedback (no details that belong in the log)."""
        if self.sender is None:
            return ("The Google Sheet is not set up correctly (details in the server log): "
                    "your feedback is kept here and will be copied there once that is fixed.")
        if self.sender.state == "misconfigured":
            return ("The Google Sheet refuses our writes right now (details in the server log): "
                    "your feedback is kept here and will be copied there once that is fixed.")
        if self.sender.state == "retrying":
            return ("The Google Sheet cannot be reached right now: your feedback is kept here "
                    "and will be copied there when it is back.")
        return "It is being copied to the Google Sheet in the background."

    def close(self) -> None:
        if self.sender is not None:
            self.sender.stop()


def _uploaded(path) -> str:
    """A flagged file's path, only if it lies in Gradio's upload cache (a request names the path)."""
    from gradio.utils import get_upload_folder, is_in_or_equal

    if not isinstance(path, str) or not path or not is_in_or_equal(path, get_upload_folder()):
        raise InvalidFeedbackError("The flagged image is not an upload of this app.")
    return path


def record_from_interface(values: Sequence, components: Sequence, flag_option, task: str,
                          model_version: str) -> FeedbackRecord:
    """A record from a `gr.Interface`'s flagged values: the image input's value, the Label output's
    value ({"label", "confidences"}), a "task" input if there is one, and the right label as the flag
    option (`flagging_options=[("It was 7", "7"), ...]`)."""
    from handwriting.preprocessing import to_model_input

    by_kind = {}
    for component, value in zip(components, values):
        kind = "task" if getattr(component, "label", None) == "task" else type(component).__name__
        by_kind.setdefault(kind, value)
    image = next((by_kind[k] for k in ("Image", "ImageEditor", "Sketchpad", "ImageUpload") if k in by_kind), None)
    if isinstance(image, dict) and "path" in image:  # a file as the Interface sends it (not preprocessed)
        image = _uploaded(image["path"])
    label = by_kind.get("Label")
    task = by_kind.get("task") or task
    if image is None or not isinstance(label, dict) or "label" not in label:
        raise InvalidFeedbackError("Flagging needs an image input and a Label output.")
    confidences = {c.get("label"): c.get("confidence") for c in label.get("confidences") or []}
    predicted = label["label"]
    correct = flag_option if flag_option in labels_for(task) else None
    if correct is None:
        raise InvalidFeedbackError("Say which label is right: flagging_options must name the task's labels.")
    return make_record(to_model_input(image), task, predicted, correct, source="app",
                       confidence=confidences.get(predicted, 0.0), model_version=model_version)


class _AlreadyStored(Exception):
    """Another request with the same idempotency key committed first."""


STORAGE_FAILED = "Your feedback could not be stored on the server; please try again later."


def _storage_failed(exc: Exception) -> FeedbackStorageError:
    """The error for the user; the details (paths, the driver's message) go to the log only."""
    log.error("feedback could not be stored: %s", exc)
    return FeedbackStorageError(STORAGE_FAILED)


class FeedbackRecorder:
    """What the app calls: store and queue a record through every sink at once.

    Nothing is opened until `start()` (or the first `submit`): importing the app opens no file and starts
    no thread."""

    def __init__(self, folder: Path | str, sheets: SheetsSettings | None = None, max_bytes: int | None = None,
                 originals_budget: int | None = None, original_side: int = 1024):
        self.folder = Path(folder)
        self.max_bytes = max_bytes  # the largest upload accepted
        self.originals_budget = originals_budget  # bytes of kept uploads, all together (None: no limit)
        self.original_side = original_side  # an upload is kept at most this many pixels on its longest side
        self.store = open_store(self.folder)  # opens its file on first use
        self.local = LocalFeedbackLogger()
        self.sheets = SheetsFeedbackLogger(sheets) if sheets is not None and sheets.configured else None
        self.sinks: list[gr.FlaggingCallback] = [self.local] + ([self.sheets] if self.sheets else [])
        self._started = False
        self._start_lock = threading.Lock()

    @classmethod
    def from_settings(cls, cfg=None) -> "FeedbackRecorder":
        cfg = cfg or settings()
        return cls(cfg.data_dir, cfg.sheets, cfg.max_file_bytes, cfg.originals_budget_bytes, cfg.original_side)

    def start(self) -> "FeedbackRecorder":
        """Set up every sink (the Sheets sender's thread starts here) and sweep orphaned uploads; once."""
        with self._start_lock:
            if not self._started:
                for sink in self.sinks:
                    sink.setup([], str(self.folder))
                try:
                    self.store.remove_orphan_originals()
                except (OSError, sqlite3.Error, FeedbackStorageError) as exc:  # the app serves on; submit says why
                    log.error("the feedback store cannot be read: %s", exc)
                self._started = True
        return self

    def earlier(self, request_key, fingerprint: str) -> FeedbackRecord | ReadFeedback | None:
        """What an API caller's idempotency key already stored, if anything: check it before doing the work
        of a new record. `fingerprint` (`request_fingerprint`) is what this request is: InvalidFeedbackError
        when the key was used for another one, or is malformed."""
        request_key = check_request_key(request_key)
        if not request_key:
            return None
        try:
            use = self.store.key_use(request_key)
            if use is None:
                return None
            stored_id, used_for = use
            if used_for and used_for != fingerprint:
                raise InvalidFeedbackError("This Idempotency-Key was already used for another request (another "
                                           "image, task or labels): send new feedback with a new key.")
            found = self.store.get(stored_id) or next(iter(self.store.reads(stored_id)), None)
        except (sqlite3.Error, OSError, FeedbackStorageError) as exc:
            raise _storage_failed(exc) from None
        return found

    def submit(self, record: FeedbackRecord, original: Original | None = None,
               request_key: str | None = None) -> FeedbackRecord:
        """Store and queue one record (and the upload it was made from); returns the stored record.

        Raises FeedbackStorageError if the store cannot be written (then nothing is kept). With a
        `request_key` already used for the same request, nothing is stored and the record stored under it is
        returned; used for another request, InvalidFeedbackError.
        """
        fingerprint = request_fingerprint(original, record.task, record.predicted, record.correct)
        return self._store(record.id, [record], None, original, request_key, fingerprint)

    def submit_read(self, read: ReadFeedback, records: list[FeedbackRecord], original: Original | None = None,
                    request_key: str | None = None) -> ReadFeedback:
        """Store feedback on a read: the read, and each character's record through every sink, in ONE
        transaction; the upload is kept once, named by all of them. Errors and keys as `submit`."""
        fingerprint = request_fingerprint(original, read.task, read.predicted, read.correct)
        return self._store(read.id, records, read, original, request_key, fingerprint)

    def _store(self, stored_id: str, records: list[FeedbackRecord], read: ReadFeedback | None,
               original: Original | None, request_key: str | None, fingerprint: str):
        """In one transaction: the key's claim, the upload, the read (if any) and every record through every
        sink; returns the read, else the record (or what the key stored before)."""
        self.start()
        request_key = check_request_key(request_key)
        try:
            with self.store.transaction():
                if request_key and self.store.claim_key(request_key, stored_id, fingerprint) != stored_id:
                    raise _AlreadyStored(request_key)  # a concurrent retry stored it first: roll back
                if original is not None:
                    name = self.store.save_original(original, self.originals_budget)
                    records = [replace(r, original_file=name) for r in records]
                    read = replace(read, original_file=name) if read else None
                if read is not None:
                    self.store.insert_read(read)
                for record in records:
                    for sink in self.sinks:
                        sink.flag([record])
        except _AlreadyStored:
            return self.earlier(request_key, fingerprint)
        except (sqlite3.Error, OSError, FeedbackStorageError) as exc:
            raise _storage_failed(exc) from None
        return read if read is not None else records[0]

    def read_confirmation(self, read: ReadFeedback) -> str:
        """What the person (or API caller) is told once feedback on a read is stored."""
        if read.predicted == read.correct:
            what = f"the reading {read.correct!r} was right"
        elif read.matched:
            what = f"it says {read.correct!r} (read as {read.predicted!r}), stored character by character"
        else:
            what = (f"it says {read.correct!r} (read as {read.predicted!r}); the characters do not match one to "
                    "one, so it is kept whole")
        text = f"Thank you! Stored feedback record {read.id}: {what}."
        return text + (" " + self.sheets.note() if self.sheets and read.matched else "")

    def confirmation(self, record: FeedbackRecord | ReadFeedback) -> str:
        """What the person (or API caller) is told once the record is stored."""
        if isinstance(record, ReadFeedback):
            return self.read_confirmation(record)
        if record.was_correct:
            what = f"the model was right, it is {record.correct}"
        else:
            what = f"the right answer is {record.correct} (the model said {record.predicted})"
        text = f"Thank you! Stored feedback record {record.id}: {what}."
        return text + (" " + self.sheets.note() if self.sheets else "")

    def close(self) -> None:
        for sink in self.sinks:
            if hasattr(sink, "close"):
                sink.close()
