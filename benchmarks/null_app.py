"""The app with a model that does nothing: the floor the real app is compared against.

    python -m benchmarks.null_app        # serves like `python app.py` (GRADIO_SERVER_NAME/PORT, ...)

Everything but the model call is the real thing: `app.py` itself runs as `__main__` (same layout,
endpoints, preprocessing, micro-batcher, queue and launch settings). Only
`load_runtime` (as `handwriting.models` calls it) is replaced, before the app is imported, by one that returns
`NullRuntime`: constant probabilities, instantly, without loading any weights. The difference between
the two apps' timings is therefore what the model costs a request.
"""

from __future__ import annotations


from handwriting.config import quiet_third_parties  # noqa: E402

quiet_third_parties()  # as app.py does, before the library is imported

import runpy  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NULL_TOP_LABEL_INDEX = 0  # the label the null model always answers first


class NullRuntime:
    """Same interface as LiteRTRuntime / KerasRuntime: batch of 28x28 -> N x classes, constant."""

    name = "null"

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        probs = np.linspace(1.0, 0.1, num_classes, dtype=np.float32)  # distinct, so the top 3 are well defined
        self._row = np.roll(probs / probs.sum(), NULL_TOP_LABEL_INDEX)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._row, (len(batch), self.num_classes)).copy()


def null_load_runtime(folder) -> NullRuntime:
    """Replaces the `load_runtime` that `handwriting.models` calls: a model folder is named after its task (models/digits)."""
    from handwriting.tasks import TASKS

    return NullRuntime(len(TASKS.get(Path(folder).name, TASKS["digits"]).labels))


def install() -> None:
    """Swap the runtime loader; must run before the app loads a model (recognizers load it lazily).

    In the game, a do-nothing model also agrees with every stroke judged live (any confidence will do), so
    the browser benchmark can time "a right stroke -> the next target" against it."""
    import handwriting.game.rounds
    import handwriting.models

    handwriting.models.load_runtime = null_load_runtime
    handwriting.game.rounds.LIVE_CONFIDENCE = 0.0


def run_app() -> None:
    """Run app.py exactly as `python app.py` would (with whatever has been patched before)."""
    sys.path.insert(0, str(ROOT))
    sys.argv = [str(ROOT / "app.py")]
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    install()
    run_app()
