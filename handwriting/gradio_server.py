"""What the app changes in Gradio's own request handling: refusals said in one line, visitors' sessions kept.

Gradio checks and converts each input before our functions see it (`Blocks.preprocess_data`); a file
path outside its cache or a value of the wrong shape fails there with a 25-line traceback in the log and
an error with no message (`null`) for the caller. `GuardedBlocks` turns those into the app's one-line
refusals with a message.

Every API call without a session hash is a new Gradio session, and Gradio keeps only the most recent
`state_session_capacity` of them (HANDWRITING_MAX_SESSIONS): 1,100 stateless `/model_info` calls pushed
out a visitor's session, so the prediction their Yes answered, or their game round, was gone. Here,
when the sessions are too many, those that hold no `gr.State` value (stateless API calls, visitors who
have not predicted yet: nothing is lost with them) go first, oldest first; sessions holding state go
only when no stateless one is left.
"""

from __future__ import annotations

import gradio as gr
import gradio.routes
from gradio.exceptions import Error, InvalidPathError
from gradio.state_holder import StateHolder
from pydantic import ValidationError

from handwriting.gradio_inputs import NOT_AN_UPLOAD, refuse


class GuardedBlocks(gr.Blocks):
    """`gr.Blocks` whose input checking refuses a bad request with a message, never a traceback."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except Error:
            raise
        except InvalidPathError as exc:  # a file path outside the upload cache
            raise refuse(NOT_AN_UPLOAD, str(exc)) from None
        except ValidationError as exc:
            where = ".".join(str(part) for part in exc.errors()[0]["loc"]) if exc.errors() else ""
            raise refuse(f"A value sent to this endpoint is not in the form it takes{f' ({where})' if where else ''}: "
                         "see the API page for each parameter's form.", str(exc)) from None
        except ValueError as exc:  # e.g. too few values for the endpoint's inputs
            raise refuse("The request does not carry the values this endpoint takes: see the API page.",
                         str(exc)) from None


class VisitorsFirstStateHolder(StateHolder):
    """Gradio's StateHolder whose eviction spares sessions that hold state while stateless ones remain."""

    def update(self, session_id: str):
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            while len(self.session_data) > self.capacity:
                victim = next((sid for sid, session in self.session_data.items() if not session.state_data),
                              next(iter(self.session_data)))
                del self.session_data[victim]
                self.time_last_used.pop(victim, None)


def keep_visitors_first() -> None:
    """Make every app launched from now on use VisitorsFirstStateHolder (Gradio builds its StateHolder
    when it launches, from `gradio.routes`)."""
    gradio.routes.StateHolder = VisitorsFirstStateHolder
