"""Loading a task's model: `load(task)` resolves it to checked weights, once, and keeps it ready to answer.

Where the weights come from is decided once per process and settings: the Hugging Face hub at the
configured revision (`handwriting.hub`), else its cache, else the bundled folder `models/<model_name>/`
(`handwriting.model_folder` names the files). Downloaded weights are verified before they are trusted;
every outcome is one log line saying which version serves from where and, for a fallback, why, so the
app always starts. Models load lazily: a task nobody asks for costs no memory.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handwriting.batching import MicroBatcher
from handwriting.config import PROJECT_DIR, settings
from handwriting.hub import HUB_CACHE, HubFailure, snapshot
from handwriting.model_folder import KERAS_FILE, LITERT_FILE, litert_state, models_dir, read_metrics
from handwriting.refusal import Answer, RefusalPolicy, decide
from handwriting.runtime import load_runtime
from handwriting.tasks import TASKS, Task, get_task

log = logging.getLogger("handwriting")

BUNDLED = "bundled"


class ModelUnavailableError(RuntimeError):
    """No weights can be found for a task; the message says what is missing."""


class ModelVerificationError(ValueError):
    """A model does not load, or does not fit its task (wrong input or number of outputs)."""


@dataclass(frozen=True)
class ModelRecord:
    """Which weights serve a task, and where they came from."""

    task: Task
    folder: Path
    version: str
    source: str  # for people: where these weights came from
    metrics: dict = field(default_factory=dict)
    origin: str = BUNDLED  # BUNDLED, HUB or HUB_CACHE
    repo: str | None = None
    revision: str | None = None  # as configured: a tag, branch or commit
    commit: str | None = None  # the commit it resolved to
    fallback_reason: str | None = None  # why a better source was not used

    @property
    def weights(self) -> Path:
        """The Keras weights the serving copy was converted from (training reads them)."""
        return self.folder / KERAS_FILE

    def describe(self) -> str:
        return f"{self.task.name} model {self.version} ({self.source})"

    def info(self) -> dict:
        """JSON-able summary for `/model_info` and the page."""
        results = self.metrics.get("results", {})
        return {"task": self.task.name, "available": True, "version": self.version, "origin": self.origin,
                "source": self.source, "repo": self.repo, "revision": self.revision, "commit": self.commit,
                "headline": self.metrics.get("headline", ""),
                "accuracy": {name: r.get("accuracy") for name, r in results.items() if isinstance(r, dict)},
                "fallback_reason": self.fallback_reason}


def read_model_folder(task, folder: Path, source: str, weights: str = LITERT_FILE, **provenance) -> ModelRecord:
    """A model folder's record; ModelUnavailableError when it lacks `weights` (serving needs its LiteRT copy;
    training, which runs the Keras weights, asks for those)."""
    task, folder = get_task(task), Path(folder)
    if not (folder / weights).is_file():
        raise ModelUnavailableError(f"The {task.name} model is not available: {folder / weights} is missing.")
    metrics = read_metrics(folder)
    return ModelRecord(task, folder, str(metrics.get("version", "unversioned")), source, metrics, **provenance)


def verify_model_folder(task, folder: Path, runtime=None) -> None:
    """Raise ModelVerificationError unless the folder's model (or `runtime`, e.g. training's Keras one)
    loads and answers a blank 28x28 image with one probability per label (and its "none" unit, if its
    refusal policy has one)."""
    task = get_task(task)
    try:
        units = RefusalPolicy.load(folder).output_units(task.labels)
        out = np.asarray((runtime or load_runtime(folder))(np.zeros((1, 28, 28), np.float32)))
    except Exception as exc:
        raise ModelVerificationError(f"the model in {folder} does not load or run ({type(exc).__name__}: {exc})") from exc
    if out.shape != (1, units) or not np.isfinite(out).all():
        raise ModelVerificationError(f"the model in {folder} answers a 28x28 image with shape {out.shape}; "
                                     f"the {task.name} task needs (1, {units}).")


class Model:
    """One task's model, ready to answer; concurrent callers share model calls.

    Its raw output has one unit per label, plus a last "none of them" unit when its refusal policy says so
    (`handwriting.refusal`); `probabilities` are the labels' alone, `answer` decides "?"."""

    def __init__(self, record: ModelRecord):
        self.record = record
        self.task = record.task
        self.policy = RefusalPolicy.load(record.folder)
        self.line_policy = self.policy.for_lines()
        self.runtime = load_runtime(record.folder)
        units = self.policy.output_units(self.task.labels)
        if self.runtime.num_classes != units:
            raise ModelVerificationError(f"{record.folder / LITERT_FILE} has {self.runtime.num_classes} outputs but "
                                         f"task {self.task.name!r} needs {units}.")
        self._batched = MicroBatcher(self.runtime, name=f"{self.task.name}-batcher")

    @property
    def version(self) -> str:
        return self.record.version

    def rows(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Preprocessed 28x28 images -> the model's raw output rows, in batched model calls."""
        return self._batched.rows(xs) if xs else []

    def real(self, row: np.ndarray) -> np.ndarray:
        """A raw row's probabilities of the task's labels, given that the picture is one of them: the "none"
        unit's share taken out, so the characters compare (and the reader splits a line) as the network
        under the "none" head judges them."""
        characters = row[: len(self.task.labels)]
        if not self.policy.none_unit:
            return characters
        share = float(characters.sum())
        return characters / share if share > 0 else characters

    def answer(self, row: np.ndarray) -> Answer:
        """A raw row's answer: its label ("?" when refused) and the closest characters."""
        return decide(row, self.task.labels, self.policy)

    def answer_in_line(self, row: np.ndarray) -> Answer:
        """`answer` for a character the reader found in a line of writing (`RefusalPolicy.for_lines`)."""
        return decide(row, self.task.labels, self.line_policy)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """One preprocessed 28x28 image -> its labels' probabilities."""
        return self.real(self._batched(x))


_resolved: dict[tuple, ModelRecord | ModelUnavailableError] = {}
_loaded: dict[str, Model] = {}
_lock = threading.Lock()


def resolve(task) -> ModelRecord:
    """The model folder that serves `task` (hub, hub cache or bundled), decided once and remembered."""
    task = get_task(task)
    cfg = settings()
    key = (task, models_dir(cfg), cfg.hub)
    with _lock:
        if key not in _resolved:
            try:
                _resolved[key] = _resolve(task, cfg)
            except ModelUnavailableError as exc:
                _resolved[key] = exc
        outcome = _resolved[key]
    if isinstance(outcome, ModelUnavailableError):
        raise outcome
    return outcome


def load(task) -> Model:
    """`task`'s model, loaded on first use; a new decision (`forget`, new settings) loads it again."""
    task = get_task(task)
    record = resolve(task)
    with _lock:
        model = _loaded.get(task.name)
        if model is None or model.record is not record:
            model = _loaded[task.name] = Model(record)
        return model


def forget() -> None:
    """Decide again on the next call (tests; a process that wants to pick up a new version)."""
    with _lock:
        _resolved.clear()


def available(task) -> bool:
    """Whether a model serves `task` (bundled or from the hub)."""
    try:
        resolve(task)
        return True
    except ModelUnavailableError:
        return False


def model_info(tasks=None) -> dict[str, dict]:
    """What each task serves: version, where it came from (repo, revision, commit) and its headline figures."""
    out = {}
    for task in (tasks if tasks is not None else TASKS.values()):
        task = get_task(task)
        try:
            out[task.name] = resolve(task).info()
        except ModelUnavailableError as exc:
            out[task.name] = {"task": task.name, "available": False, "error": str(exc)}
    return out


def warm_up(task="digits") -> None:
    """Load a task's model and run it once, so the first visitor does not wait."""
    try:
        model = load(task)
        model.probabilities(np.zeros((28, 28), np.float32))
        log.info("serving %s", model.record.describe())
    except Exception as exc:  # the app still starts; requests for this task will say what is wrong
        log.warning("could not load the %s model at start-up: %s", getattr(task, "name", task), exc)


def _resolve(task: Task, cfg) -> ModelRecord:
    hub = cfg.hub
    if not hub.repo:
        return _bundled(task, cfg, None, "HANDWRITING_MODEL_REPO is not set")
    try:
        record = _from_hub(task, hub)
    except HubFailure as failure:
        return _bundled(task, cfg, failure.where, str(failure), quiet=failure.quiet)
    if record.origin == HUB_CACHE:
        log.warning("%s: serving model %s from %s: %s", task.name, record.version, record.source, record.fallback_reason)
    else:
        log.info("%s: serving model %s from %s", task.name, record.version, record.source)
    return record


def _from_hub(task: Task, hub) -> ModelRecord:
    """The hub's (or its cache's) folder, checked: a current `model.tflite` that loads and fits the task."""
    snap = snapshot(task, hub)
    try:
        record = read_model_folder(task, snap.folder, snap.source, origin=snap.origin, repo=snap.repo,
                                   revision=snap.revision, commit=snap.commit, fallback_reason=snap.offline_reason)
        state = litert_state(snap.folder)
        if state != "current":
            raise ModelVerificationError(f"{LITERT_FILE} is {state}; publish with `python -m training.publish`, "
                                         "which converts it")
        verify_model_folder(task, snap.folder)
    except (ModelUnavailableError, ModelVerificationError) as exc:
        raise HubFailure(f"hub repo {hub.repo} at {hub.revision}",
                         f"commit {snap.commit[:7]} has no usable {task.model_name} model ({exc})") from None
    return record


def _bundled(task: Task, cfg, wanted: str | None, reason: str, quiet: bool = False) -> ModelRecord:
    """The bundled folder; `wanted` names the hub source that was not used (None: none configured)."""
    folder = models_dir(cfg) / task.model_name
    shown = folder.relative_to(PROJECT_DIR) if folder.is_relative_to(PROJECT_DIR) else folder
    why = f"{wanted}: {reason}" if wanted else reason
    try:
        record = read_model_folder(task, folder, source=f"bundled {shown}", fallback_reason=why)
    except ModelUnavailableError:
        # a task that exists nowhere yet is no news; one whose hub copy failed is
        (log.info if wanted is None or quiet else log.warning)("%s: no model to serve: nothing bundled in %s, and %s",
                                                               task.name, shown, why)
        raise
    (log.info if wanted is None else log.warning)("%s: serving the bundled model %s from %s (%s)", task.name,
                                                  record.version, shown, why)
    return record
