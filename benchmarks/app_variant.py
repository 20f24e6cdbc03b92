"""app.py with other queue settings (and optionally the do-nothing model), for the tuning benchmark only.

    python -m benchmarks.app_variant [--null-model] [--predict-concurrency N|none] [--default-concurrency N|none]
                                     [--max-threads N] [--gradio-batch N] [--state-session-capacity N]

`app.py` runs unchanged as `__main__` (benchmarks/null_app.py); only what a flag names differs, applied
by patching Gradio at the two calls app.py's `__main__` makes:

- `Blocks.queue(...)`: before it runs, the listeners whose function is `ui.recognition.predict_image` or
  `predict_sketch` (they share one concurrency_id) get `--predict-concurrency` as their
  `concurrency_limit`; `--default-concurrency` replaces the queue's `default_concurrency_limit`.
  With `--gradio-batch N` those listeners use Gradio's own batching (`batch=True, max_batch_size=N`):
  a batch function preprocesses each input in turn and makes ONE runtime call for the batch, instead
  of our micro-batcher. (A bad input then fails its whole batch: Gradio's semantics, fine for timing.)
- `Blocks.launch(...)`: `--max-threads` is passed as `max_threads` (Gradio's default is 40), and
  `--state-session-capacity` as `state_session_capacity` (default 10000 sessions kept in memory; every
  raw API call without a session_hash is a new session).

`--null-model` swaps in the do-nothing model as benchmarks/null_app.py does. Not for production:
app.py holds the settings that serve.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from pathlib import Path

from benchmarks import null_app  # sets the quiet-third-parties variables before gradio loads

ROOT = Path(__file__).resolve().parents[1]
KEEP = object()  # a setting left as app.py has it


def limit(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--null-model", action="store_true", help="the do-nothing model (benchmarks/null_app.py)")
    parser.add_argument("--predict-concurrency", type=limit, default=KEEP, help="N or none (unlimited)")
    parser.add_argument("--default-concurrency", type=limit, default=KEEP, help="N or none (unlimited)")
    parser.add_argument("--max-threads", type=int, default=None)
    parser.add_argument("--gradio-batch", type=int, default=None, metavar="N", help="Gradio batch=True, max_batch_size=N")
    parser.add_argument("--state-session-capacity", type=int, default=None, metavar="N")
    return parser.parse_args(argv)


def batch_function(single):
    """Gradio batch function doing what `single` (an endpoint) does for each input, one runtime call per task."""
    import gradio as gr
    import numpy as np

    from ui.errors import USER_ERRORS
    from handwriting.preprocessing import to_model_input
    from handwriting.models import load

    runtime_lock = threading.Lock()  # the LiteRT interpreter is not thread-safe

    @functools.wraps(single)
    def batched(images: list, tasks: list) -> list[list[dict[str, float]]]:
        try:
            xs = [to_model_input(image) for image in images]
            recognizers = [load(task) for task in tasks]
        except USER_ERRORS as exc:
            raise gr.Error(str(exc)) from None
        answers: list = [None] * len(xs)
        for task in dict.fromkeys(tasks):
            rows = [i for i, t in enumerate(tasks) if t == task]
            recognizer = recognizers[rows[0]]
            with runtime_lock:
                probabilities = recognizer.runtime(np.stack([xs[i] for i in rows]))
            for i, p in zip(rows, probabilities):
                answers[i] = dict(zip(recognizer.task.labels, map(float, p)))
        return [answers]

    return batched


def install(args: argparse.Namespace) -> None:
    import gradio as gr

    from ui import recognition

    predict_fns = (recognition.predict_image, recognition.predict_sketch)
    original_queue, original_launch = gr.Blocks.queue, gr.Blocks.launch

    @functools.wraps(original_queue)
    def queue(self, *a, **kw):
        for fn in self.fns.values():
            if fn.fn not in predict_fns and getattr(fn.fn, "__wrapped__", None) not in predict_fns:
                continue
            if args.predict_concurrency is not KEEP:
                fn.concurrency_limit = args.predict_concurrency
            if args.gradio_batch:
                fn.fn = batch_function(fn.fn)
                fn.batch, fn.max_batch_size = True, args.gradio_batch
        if args.default_concurrency is not KEEP:
            kw["default_concurrency_limit"] = args.default_concurrency
        return original_queue(self, *a, **kw)

    @functools.wraps(original_launch)
    def launch(self, *a, **kw):
        if args.max_threads is not None:
            kw["max_threads"] = args.max_threads
        if args.state_session_capacity is not None:
            kw["state_session_capacity"] = args.state_session_capacity
        return original_launch(self, *a, **kw)

    gr.Blocks.queue, gr.Blocks.launch = queue, launch


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    sys.path.insert(0, str(ROOT))
    if args.null_model:
        null_app.install()
    install(args)
    print("app variant:", {k: v for k, v in vars(args).items() if v is not KEEP}, flush=True)
    null_app.run_app()


if __name__ == "__main__":
    main()
