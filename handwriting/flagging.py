"""Gradio's flagging hook for feedback: one `FlaggingCallback` per sink, and the recorder that runs them.

- `LocalFeedbackLogger`: every record into the SQLite store in the data folder (always on).
- `SheetsFeedbackLogger`: queues every record for the Google Sheet; its background sender appends it
  (on when GOOGLE_SHEETS_KEY is set; with broken credentials it keeps queuing, so nothing is lost while
  someone fixes them, and says so in the log and the page).

`FeedbackRecorder.submit` validates the feedback, builds the record once and calls every sink's `flag`
inside ONE store transaction: a record is stored and queued together, or not at all. It returns as soon
as that transaction commits; nothing on this path waits on Google. Gradio's Blocks never call `setup`
themselves, so the recorder does.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import gradio as gr

from handwriting.config import SheetsSettings, settings
from handwriting.feedback import FeedbackRecord, FeedbackStorageError, check_request_key, make_record, open_store

log = logging.getLogger("handwriting.feedback")


class LocalFeedbackLogger(gr.FlaggingCallback):
    """The local sink: the record into the store. `flag_data` is `FeedbackRecord.as_flag_data()`."""

    def __init__(self):
        self.store = None

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        """`components` is unused: a record names its own fields."""
        self.store = open_store(flagging_dir)

    def flag(self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None) -> int:
        record = FeedbackRecord.from_flag_data(flag_data)
        with self.store.transaction():
            self.store.insert(record)
            return self.store.count()


class SheetsFeedbackLogger(gr.FlaggingCallback):
    """The Google Sheets sink: the record into the store's outbox, for the background sender.

    Call `flag` after the local logger, in the same store transaction (as `FeedbackRecorder` does):
    the outbox holds ids of stored records.
    """

    def __init__(self, cfg: SheetsSettings):
        self.cfg = cfg
        self.store = None
        self.sender = None
        self.problem = ""  # why the sheet cannot be used as configured, for the log and the operator

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        from handwriting.sheets import SheetsConfigError, SheetsSender, load_credentials, spreadsheet_key

        self.store = open_store(flagging_dir)
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
        from handwriting.sheets import SINK

        record = FeedbackRecord.from_flag_data(flag_data)
        with self.store.transaction():
            self.store.enqueue(SINK, record.id)
            if self.sender is not None:
                self.store.after_commit(self.sender.wake)
            return self.store.waiting(SINK)

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


class _AlreadyStored(Exception):
    """Another request with the same idempotency key committed first."""


class FeedbackRecorder:
    """What the app calls: validate feedback, then store and queue it through every sink at once."""

    def __init__(self, folder: Path | str, sheets: SheetsSettings | None = None, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.store = open_store(self.folder)
        self.local = LocalFeedbackLogger()
        self.sheets = SheetsFeedbackLogger(sheets) if sheets is not None and sheets.configured else None
        self.sinks: list[gr.FlaggingCallback] = [self.local] + ([self.sheets] if self.sheets else [])
        for sink in self.sinks:
            sink.setup([], str(self.folder))
        self.store.remove_orphan_originals()

    @classmethod
    def from_settings(cls, cfg=None) -> "FeedbackRecorder":
        cfg = cfg or settings()
        return cls(cfg.data_dir, cfg.sheets, cfg.max_file_bytes)

    def submit(self, image, task: str, predicted, correct, *, confidence: float | None = None,
               model_version: str | None = None, source: str = "api", request_key: str | None = None) -> FeedbackRecord:
        """Validate, store and queue one piece of feedback; returns the stored record.

        Raises the library's user-facing errors (bad label, task or image) before anything is written,
        and FeedbackStorageError if the store cannot be written (then nothing is kept). With a
        `request_key` already used, nothing is stored and the record stored under it is returned.
        """
        request_key = check_request_key(request_key)
        if request_key and (earlier := self.store.record_for_key(request_key)) is not None:
            return earlier
        record, original = make_record(image, task, predicted, correct, confidence=confidence,
                                       model_version=model_version, source=source, max_bytes=self.max_bytes)
        try:
            if original is not None:
                record = replace(record, original_file=self.store.save_original(record.id, original))
            with self.store.transaction():
                if request_key and self.store.claim_key(request_key, record.id) != record.id:
                    raise _AlreadyStored(request_key)  # a concurrent retry stored it first: roll back
                for sink in self.sinks:
                    sink.flag(record.as_flag_data())
        except _AlreadyStored:
            self.store.discard_original(record.original_file)
            return self.store.record_for_key(request_key)
        except (sqlite3.Error, OSError, FeedbackStorageError) as exc:
            self.store.discard_original(record.original_file)
            log.error("feedback could not be stored: %s", exc)
            raise FeedbackStorageError("Your feedback could not be stored on the server; please try again later.") from None
        return record

    def confirmation(self, record: FeedbackRecord) -> str:
        """What the person (or API caller) is told once the record is stored."""
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
