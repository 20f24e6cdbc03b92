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

Gradio also builds a config of every block of the page for each new session (`SessionState.__init__`):
on this page that was 42% of the CPU of a stateless API call (a script calling `/predict` without a
session hash starts a new session every time). `LazySessionState` builds a block's config only when it
is read (an update to that block, or a deep link), so a call pays for the blocks it touches.

`GuardedBlocks.on_launch` runs the app's start-up work (opening storage, starting the Sheets sender,
warming the model) when the server starts, not when the module is imported.
"""

from __future__ import annotations

import os
from copy import copy

import gradio as gr
import gradio.routes
from gradio.exceptions import Error, InvalidPathError
from gradio.state_holder import SessionState, StateHolder
from pydantic import ValidationError

from ui.inputs import NOT_AN_UPLOAD, refuse


class GuardedBlocks(gr.Blocks):
    """`gr.Blocks` whose input checking refuses a bad request with a message, never a traceback, and
    which runs `on_launch` callbacks when it is launched."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_launch: list = []

    def launch(self, *args, **kwargs):
        keep_visitors_first()  # before Gradio builds its StateHolder
        for start in self.on_launch:
            start()
        return super().launch(*args, **kwargs)

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


class LazyConfig(dict):
    """A session's {block id: config}, each built from the session's block on first read."""

    def __init__(self, blocks_config, ids):
        super().__init__()
        self._blocks_config = blocks_config
        self._order = list(ids)
        self._ids = set(self._order)

    def __missing__(self, key):
        if key not in self._ids:
            raise KeyError(key)
        value = self[key] = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        return value

    def __contains__(self, key):
        return key in self._ids or super().__contains__(key)

    def items(self):
        """Every block's config, in the page's order (a deep link reads them all)."""
        return [(key, self[key]) for key in self._order]


class LazySessionState(SessionState):
    """Gradio's SessionState (6.31's `__init__`, field for field) without building every block's config
    up front."""

    def __init__(self, blocks):
        self.blocks_config = copy(blocks.default_config)
        self.config_values = LazyConfig(self.blocks_config, [k for k in self.blocks_config.blocks if k in blocks.blocks])
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


class VisitorsFirstStateHolder(StateHolder):
    """Gradio's StateHolder whose eviction spares sessions that hold state while stateless ones remain,
    and whose sessions build their blocks' config lazily."""

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LazySessionState(self.blocks)
        return super().__getitem__(session_id)

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
