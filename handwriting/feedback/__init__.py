"""Feedback on predictions: the record (`record`), the SQLite database with the sinks' outbox
(`database`), the Google Sheets sender and its row codec (`sheets`), and the Gradio flagging callbacks
with the recorder that runs them (`flagging`, the one module here that imports Gradio).

The record is built from what the caller already has (the model input, the prediction, its confidence
and the model version): nothing here loads a model.
"""

from handwriting.feedback.database import FeedbackStore, open_store
from handwriting.feedback.record import (
    FeedbackRecord,
    FeedbackStorageError,
    InvalidFeedbackError,
    Original,
    ReadFeedback,
    make_read_feedback,
    make_record,
    read_original,
)

__all__ = ["FeedbackRecord", "FeedbackStorageError", "FeedbackStore", "InvalidFeedbackError", "Original",
           "ReadFeedback", "make_read_feedback", "make_record", "open_store", "read_original"]
