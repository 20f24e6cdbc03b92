"""The library's user-facing errors, turned into `gr.Error` at the edge.

Gradio shows a `gr.Error` in the page and sends it to API clients as a readable error; anything else
would reach people as a bare "Error".
"""

from __future__ import annotations

import functools

import gradio as gr

from handwriting.service import USER_ERRORS


def errors_as_gr_error(errors: tuple[type[Exception], ...]):
    """A decorator turning `errors` into `gr.Error` with their message (no traceback in the log:
    they are the user's, not the server's)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except errors as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        return wrapper

    return decorate


user_errors = errors_as_gr_error(USER_ERRORS)  # the library's user-facing errors
