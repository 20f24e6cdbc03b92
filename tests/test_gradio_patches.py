"""The Gradio internals ui/gradio_patches.py changes are still there, in the form the patches were written for.

Fails loudly on another Gradio version: read each patch against the new Gradio's code, then update
`WRITTEN_FOR`."""

from __future__ import annotations

import inspect

import gradio as gr
import gradio.routes
from gradio.blocks import Blocks
from gradio.state_holder import SessionState, StateHolder

from ui import gradio_patches


def test_the_installed_gradio_is_the_one_the_patches_were_written_for():
    assert gr.__version__ == gradio_patches.WRITTEN_FOR, (
        f"Gradio {gr.__version__} is installed; ui/gradio_patches.py was written for {gradio_patches.WRITTEN_FOR}")
    assert gradio_patches.check_gradio_version()


def test_the_patched_internals_have_the_shape_the_patches_expect():
    assert list(inspect.signature(Blocks.preprocess_data).parameters) == ["self", "block_fn", "inputs", "state",
                                                                         "explicit_call"]
    process_api = inspect.signature(Blocks.process_api).parameters
    assert list(process_api)[:5] == ["self", "block_fn", "inputs", "state", "request"] and "session_hash" in process_api
    # LazySessionState copies SessionState.__init__ field for field
    fields = set(SessionState(gr.Blocks()).__dict__)
    assert fields == {"blocks_config", "config_values", "state_data", "_state_ttl", "is_closed", "STATE_TTL_WHEN_CLOSED"}
    assert gradio.routes.StateHolder in (StateHolder, gradio_patches.VisitorsFirstStateHolder)
    holder = StateHolder()
    assert {"session_data", "time_last_used", "lock", "capacity"} <= set(holder.__dict__)
    assert {"__getitem__", "update", "set_blocks"} <= set(vars(StateHolder))


def test_the_queue_summarises_its_traffic_only_every_so_many_events(monkeypatch):
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    with gradio_patches.GuardedBlocks() as demo:
        gr.Markdown("x")
    demo.queue()
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == gradio_patches.ANALYTICS_EVERY  # Gradio's spelling
    records = [{"time": 0.0, "status": "success", "process_time": 0.01, "function": "f", "session_hash": "s"}]
    summaries = []
    monkeypatch.setattr(demo._queue, "_get_df", lambda r: summaries.append(r) or __import__("pandas").DataFrame(r))
    for _ in range(2 * gradio_patches.ANALYTICS_EVERY):
        demo._queue.events_recorded += 1
        demo._queue.compute_analytics_summary(records)
    assert len(summaries) == 2


def test_a_launched_app_lets_the_event_loop_back_in_as_soon_as_it_is_told(monkeypatch):
    import sys

    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)  # Python's default
        monkeypatch.delenv("HANDWRITING_SWITCH_INTERVAL_MS", raising=False)
        gradio_patches.share_interpreter_fairly()
        assert sys.getswitchinterval() == 0.005  # unset: Python's own setting is kept
        monkeypatch.setenv("HANDWRITING_SWITCH_INTERVAL_MS", "1")
        with gradio_patches.GuardedBlocks() as demo:
            gr.Markdown("x")
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1")
        demo.close()
        assert sys.getswitchinterval() == 0.001
    finally:
        sys.setswitchinterval(before)
