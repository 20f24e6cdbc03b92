"""What the app calls to keep feedback: one transaction per record through every sink.

`FeedbackRecorder.submit` stores a built record (and the upload it was made from) and hands it to every
sink inside ONE store transaction: a record is stored and queued together, or not at all. It returns as
soon as that transaction commits; nothing on this path waits on a remote sink. Nothing is opened until
`start()` (the app calls it at launch, not at import).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from handwriting.config import settings
from handwriting.feedback.database import open_store
from handwriting.feedback.original import Original
from handwriting.feedback.record import (
    FeedbackRecord,
    FeedbackStorageError,
    InvalidFeedbackError,
    ReadFeedback,
    check_request_key,
    request_fingerprint,
)
from handwriting.feedback.sinks import LocalSink, Sink
from handwriting.refusal import REFUSED
from handwriting.tasks import get_task

log = logging.getLogger("handwriting.feedback")


class _AlreadyStored(Exception):
    """Another request with the same idempotency key committed first."""


STORAGE_FAILED = "Your feedback could not be stored on the server; please try again later."
STORAGE_DOWN = ("**Corrections cannot be stored right now**: the feedback store cannot be reached. Recognition "
                "works as usual; feedback sent meanwhile is refused, not lost silently.")


def _storage_failed(exc: Exception) -> FeedbackStorageError:
    """The error for the user; the details (paths, the driver's message) go to the log only."""
    log.error("feedback could not be stored: %s", exc)
    return FeedbackStorageError(STORAGE_FAILED)


class FeedbackRecorder:
    """Stores and queues records through `sinks` (the local SQLite sink is always one, and first).

    `max_bytes`: the largest upload accepted; `originals_budget`: bytes of kept uploads, all together (None:
    no limit); `original_side`: an upload is kept at most this many pixels on its longest side.
    """

    def __init__(self, folder: Path | str, sinks: Sequence[Sink] = (), *, max_bytes: int | None = None,
                 originals_budget: int | None = None, original_side: int = 1024, database_url: str | None = None):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.originals_budget = originals_budget
        self.original_side = original_side
        # the SQLite file in `folder`, or the PostgreSQL database at `database_url` (None: from the environment)
        self.store = open_store(self.folder, database_url)  # opens nothing until first used
        sinks = list(sinks)
        self.sinks: list[Sink] = sinks if any(isinstance(s, LocalSink) for s in sinks) else [LocalSink(), *sinks]
        self._started = False
        self._start_lock = threading.Lock()

    @classmethod
    def from_settings(cls, cfg=None) -> "FeedbackRecorder":
        """The app's recorder: the local store, and the Google Sheet when GOOGLE_SHEETS_KEY names one."""
        cfg = cfg or settings()
        sinks: list[Sink] = []
        if cfg.sheets.configured:
            from handwriting.feedback.sheets import SheetsSink  # gspread and google-auth only when used

            sinks.append(SheetsSink(cfg.sheets))
        return cls(cfg.data_dir, sinks, max_bytes=cfg.max_file_bytes, originals_budget=cfg.originals_budget_bytes,
                   original_side=cfg.original_side, database_url=cfg.database_url)

    def sink(self, name: str) -> Sink | None:
        """The sink called `name`, if there is one."""
        return next((s for s in self.sinks if s.name == name), None)

    def start(self) -> "FeedbackRecorder":
        """Set up every sink (remote senders' threads start here) and sweep orphaned uploads; once."""
        with self._start_lock:
            if not self._started:
                for sink in self.sinks:
                    sink.setup(self.store)
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

    def submit(self, record: FeedbackRecord, original: Original | None = None, request_key: str | None = None,
               fingerprint: str | None = None) -> FeedbackRecord:
        """Store and queue one record (and the upload it was made from); returns the stored record.

        Raises FeedbackStorageError if the store cannot be written (then nothing is kept). With a
        `request_key` already used for the same request, nothing is stored and the record stored under it is
        returned; used for another request, InvalidFeedbackError. `fingerprint`: the one `earlier` was given
        (made here from the record when None).
        """
        fingerprint = fingerprint or request_fingerprint(original, record.task, record.predicted, record.correct)
        return self._store(record.id, [record], None, original, request_key, fingerprint)

    def submit_read(self, read: ReadFeedback, records: list[FeedbackRecord], original: Original | None = None,
                    request_key: str | None = None, fingerprint: str | None = None) -> ReadFeedback:
        """Store feedback on a read: the read, and each character's record through every sink, in ONE
        transaction; the upload is kept once, named by all of them. Errors, keys and fingerprint as `submit`."""
        fingerprint = fingerprint or request_fingerprint(original, read.task, read.predicted, read.correct)
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
                        sink.accept(self.store, record)
        except _AlreadyStored:
            return self.earlier(request_key, fingerprint)
        except (sqlite3.Error, OSError, FeedbackStorageError) as exc:
            raise _storage_failed(exc) from None
        return read if read is not None else records[0]

    def storage_note(self) -> str:
        """For the page, asked at each load: "" when the store answers, else that corrections cannot be
        stored (the database may be down; recognition goes on, and the note goes once it is back)."""
        try:
            self.store.ping()
        except (sqlite3.Error, OSError, FeedbackStorageError) as exc:
            log.debug("the feedback store cannot be reached: %s", exc)
            return STORAGE_DOWN
        return ""

    def notes(self) -> str:
        """What the sinks tell the person about the copies of what they just sent."""
        return " ".join(note for sink in self.sinks if (note := sink.note()))

    def confirmation(self, record: FeedbackRecord | ReadFeedback) -> str:
        """What the person (or API caller) is told once the record (or read) is stored."""
        if isinstance(record, ReadFeedback):
            if record.predicted == record.correct:
                what = f"the reading {record.correct!r} was right"
            elif record.matched:
                what = f"it says {record.correct!r} (read as {record.predicted!r}), stored character by character"
            else:
                what = (f"it says {record.correct!r} (read as {record.predicted!r}); the characters do not match "
                        "one to one, so it is kept whole")
            copied = record.matched  # an unmatched read has no record for the sinks
        else:
            noun = get_task(record.task).noun
            if record.was_correct:
                what = (f"the model was right, it is no {noun}" if record.correct == REFUSED
                        else f"the model was right, it is {record.correct}")
            elif record.correct == REFUSED:
                what = f"it is no {noun} (the model said {record.predicted})"
            else:
                what = f"the right answer is {record.correct} (the model said {record.predicted})"
            copied = True
        notes = self.notes() if copied else ""
        return f"Thank you! Stored feedback record {record.id}: {what}." + (f" {notes}" if notes else "")

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
