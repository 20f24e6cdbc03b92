"""Gradio's per-session state, with visitors kept when API calls flood in.

Every API call without a session hash is a new Gradio session, and Gradio keeps only the most recent
`state_session_capacity` of them (HANDWRITING_MAX_SESSIONS): 1,100 stateless `/model_info` calls pushed
out a visitor's session, so the prediction their Yes answered, or their game round, was gone. Here,
when the sessions are too many, those that hold no `gr.State` value (stateless API calls, visitors who
have not predicted yet: nothing is lost with them) go first, oldest first; sessions holding state go
only when no stateless one is left.
"""

from __future__ import annotations

import gradio.routes
from gradio.state_holder import StateHolder


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
