"""Gradio sessions as the app keeps them: lazy per-block configs, and visitors kept before API callers."""

from __future__ import annotations

from gradio.state_holder import SessionState

from ui.gradio_patches import LazySessionState


def test_a_lazy_session_is_gradios_session_without_building_every_config():
    """Gradio built the config of all blocks of the page for every new session, i.e. for every stateless
    API call (42% of its CPU under /predict calls); the lazy session builds one when it is read."""
    import app

    eager, lazy = SessionState(app.demo), LazySessionState(app.demo)
    assert set(vars(lazy)) == set(vars(eager))  # the same fields as this Gradio's own SessionState
    assert dict.__len__(lazy.config_values) == 0 < len(eager.config_values)

    some = next(k for k, block in app.demo.blocks.items() if getattr(block, "elem_id", None) == "digits-feedback-status")
    for session in (eager, lazy):
        session._update_value_in_config(some, "a status")  # as Gradio does after an event's output
    assert dict.__len__(lazy.config_values) == 1 and lazy.config_values[some]["props"]["value"] == "a status"
    assert some in lazy.config_values and -1 not in lazy.config_values
    assert list(lazy.components) == list(eager.components)  # a deep link reads the same page
