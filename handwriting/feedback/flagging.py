"""The recorder's old address, kept while `ui.feedback` and `app` still import it from here.

Delete once they import `handwriting.feedback.recorder` (or `handwriting.feedback`); the Gradio flagging
adapter is `ui.flagging`.
"""

from handwriting.feedback.recorder import FeedbackRecorder

__all__ = ["FeedbackRecorder"]
