"""Feedback on predictions, free of Gradio: the record (`record`) and the upload kept with it (`original`),
the SQLite database (`database`) with the remote sinks' outbox (`outbox`), the sinks (`sinks`: the local one
and the base of remote ones), the generic background sender (`sender`), the Google Sheets sink (`sheets`),
and the recorder that runs them all in one transaction (`recorder`). Gradio's flagging hook over the same
sinks is `ui.flagging`.

The record is built from what the caller already has (the model input, the prediction, its confidence
and the model version): nothing here loads a model.
"""

from handwriting.feedback.database import FeedbackStore, open_store
from handwriting.feedback.original import Original, read_original
from handwriting.feedback.record import (
    FeedbackRecord,
    FeedbackStorageError,
    InvalidFeedbackError,
    ReadFeedback,
    make_read_feedback,
    make_record,
    request_fingerprint,
)
from handwriting.feedback.recorder import FeedbackRecorder
from handwriting.feedback.sinks import LocalSink, OutboxSink, Sink, SinkConfigError

__all__ = ["FeedbackRecord", "FeedbackRecorder", "FeedbackStorageError", "FeedbackStore", "InvalidFeedbackError",
           "LocalSink", "Original", "OutboxSink", "ReadFeedback", "Sink", "SinkConfigError", "make_read_feedback",
           "make_record", "open_store", "read_original", "request_fingerprint"]
