"""Where a task's weights come from: the hub at a pinned revision, else the hub cache, else `models/`.

A model folder (`handwriting.model_folder`) holds `model.keras` (the weights), `model.tflite` (their serving
copy), `metrics.json` (version and measured figures) and `README.md` (the model card). The bundled ones live
in `models/<task>/`. On the Hugging Face hub, one model repo (HANDWRITING_MODEL_REPO) holds a folder per
task, `digits/model.tflite`, `digits/model.keras`, `digits/metrics.json`, ...; every published version is a
commit tagged `<task>-v<version>` (`digits-v1.0.1`, made by `python -m training.publish`).
HANDWRITING_MODEL_REVISION pins a tag, branch or commit (default `main`, the latest of every task).

`resolve_model(task)` is the one place that decides, once per process and settings:

1. hub: ask the hub what the revision is (are we online, does it exist?), then download `<task>/*` at
   that commit into the hub cache (`snapshot_download`, which skips files already cached);
2. hub cache: the hub cannot be reached (no network, server error, HF_HUB_OFFLINE=1): the cached copy of
   that revision (a tag resolves offline only if it was resolved here before; a commit hash always does);
3. bundled `models/<task>/`: no repo configured, the hub says the repo or revision does not exist, nothing
   cached, or the downloaded weights fail verification.

Downloaded weights are verified before they are trusted: the folder must hold a current `model.tflite` (serving
installs have no TensorFlow to run `model.keras`; `training.publish` always uploads one), which must load in
LiteRT and answer a 28x28 image with one probability per label of the task. Every outcome is logged in one
line saying which version is served from where and, for a fallback, why: the app always starts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from handwriting.config import PROJECT_DIR, settings
from handwriting.labels import TASK_LABELS, labels_for
from handwriting.model_folder import CARD_FILE, KERAS_FILE, LITERT_FILE, METRICS_FILE, litert_state, models_dir, read_metrics  # noqa: F401

log = logging.getLogger("handwriting")

WEIGHTS_FILE = KERAS_FILE  # the older name; CARD_FILE and METRICS_FILE are also still importable from here

BUNDLED, HUB, HUB_CACHE = "bundled", "hub", "hub-cache"


class ModelUnavailableError(RuntimeError):
    """No weights can be found for a task; the message says what is missing."""


class ModelVerificationError(ValueError):
    """A weights file does not load, or does not fit the task (wrong input or number of outputs)."""


@dataclass(frozen=True)
class ModelRecord:
    task: str
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
        return self.folder / KERAS_FILE

    @property
    def litert(self) -> Path:
        return self.folder / LITERT_FILE

    def describe(self) -> str:
        return f"{self.task} model {self.version} ({self.source})"

    def info(self) -> dict:
        """JSON-able summary for `/model_info` and the page."""
        results = self.metrics.get("results", {})
        return {
            "task": self.task,
            "available": True,
            "version": self.version,
            "origin": self.origin,
            "source": self.source,
            "repo": self.repo,
            "revision": self.revision,
            "commit": self.commit,
            "headline": self.metrics.get("headline", ""),
            "accuracy": {name: r.get("accuracy") for name, r in results.items() if isinstance(r, dict)},
            "fallback_reason": self.fallback_reason,
        }


def read_model_folder(task: str, folder: Path, source: str, **provenance) -> ModelRecord:
    """Check a model folder and read its metadata."""
    labels_for(task)  # an unknown task fails here, with its own clear message
    if not (folder / KERAS_FILE).is_file():
        raise ModelUnavailableError(f"The {task} model is not available: {folder / KERAS_FILE} is missing.")
    metrics = read_metrics(folder)
    return ModelRecord(task, folder, str(metrics.get("version", "unversioned")), source, metrics, **provenance)


def verify_model_folder(task: str, folder: Path, prefer: str | None = None) -> None:
    """Raise ModelVerificationError unless the folder's model loads and gives one probability per label.

    It loads the runtime that would serve the folder (`handwriting.runtime.load_runtime`: LiteRT when its
    file is current, else Keras in safe mode, which runs no code from the file; `prefer` picks one) and runs
    one blank image.
    """
    import numpy as np

    from handwriting.runtime import load_runtime

    expected = len(labels_for(task))
    try:
        out = np.asarray(load_runtime(folder, prefer=prefer)(np.zeros((1, 28, 28), np.float32)))
    except Exception as exc:
        raise ModelVerificationError(f"the model in {folder} does not load or run ({type(exc).__name__}: {exc})") from exc
    if out.shape != (1, expected) or not np.isfinite(out).all():
        raise ModelVerificationError(
            f"the model in {folder} answers a 28x28 image with shape {out.shape}; the {task} task needs (1, {expected})."
        )


# ---------------------------------------------------------------------------------------------------
# Deciding, once per process and settings


_resolved: dict[tuple, ModelRecord | ModelUnavailableError] = {}
_lock = threading.Lock()


def resolve_model(task: str) -> ModelRecord:
    """The model folder to serve `task` from (hub, hub cache or bundled), decided once and remembered."""
    labels_for(task)
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


def forget_resolved() -> None:
    """Decide again on the next call (tests; a process that wants to pick up a new version).

    Tasks already loaded follow too: `handwriting.recognizer` keeps a loaded model only while it is the
    one `resolve_model` decides on."""
    with _lock:
        _resolved.clear()


def model_info(tasks=tuple(TASK_LABELS)) -> dict[str, dict]:
    """What each task serves: version, where it came from (repo, revision, commit) and its headline figures."""
    out = {}
    for task in tasks:
        try:
            out[task] = resolve_model(task).info()
        except ModelUnavailableError as exc:
            out[task] = {"task": task, "available": False, "error": str(exc)}
    return out


def _resolve(task: str, cfg) -> ModelRecord:
    hub = cfg.hub
    if not hub.repo:
        return _bundled(task, cfg, None, "HANDWRITING_MODEL_REPO is not set")
    try:
        record = _from_hub(task, hub)
    except _HubFailure as failure:
        return _bundled(task, cfg, failure.where, str(failure), quiet=failure.quiet)
    if record.origin == HUB_CACHE:
        log.warning("%s: serving model %s from %s: %s", task, record.version, record.source, record.fallback_reason)
    else:
        log.info("%s: serving model %s from %s", task, record.version, record.source)
    return record


def _bundled(task: str, cfg, wanted: str | None, reason: str, quiet: bool = False) -> ModelRecord:
    """The bundled folder; `wanted` names the hub source that was not used (None: none configured)."""
    folder = models_dir(cfg) / task
    shown = folder.relative_to(PROJECT_DIR) if folder.is_relative_to(PROJECT_DIR) else folder
    why = f"{wanted}: {reason}" if wanted else reason
    try:
        record = read_model_folder(task, folder, source=f"bundled {shown}", fallback_reason=why)
    except ModelUnavailableError:
        # a task that exists nowhere yet is no news; one whose hub copy failed is
        (log.info if wanted is None or quiet else log.warning)("%s: no model to serve: nothing bundled in %s, and %s",
                                                               task, shown, why)
        raise
    log_line = log.info if wanted is None else log.warning
    log_line("%s: serving the bundled model %s from %s (%s)", task, record.version, shown, why)
    return record


class _HubFailure(Exception):
    """Neither the hub nor its cache gave usable weights; the message says why, for the log."""

    def __init__(self, where: str, reason: str, quiet: bool = False):
        super().__init__(reason)
        self.where = where
        self.quiet = quiet  # the hub simply has no such task: worth an info line, not a warning


def _from_hub(task: str, hub) -> ModelRecord:
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    where = f"hub repo {hub.repo} at {hub.revision}"
    download = dict(repo_id=hub.repo, revision=hub.revision, allow_patterns=[f"{task}/*"],
                    cache_dir=hub.cache_dir, endpoint=hub.endpoint)
    offline_reason = None
    if constants.is_offline_mode():
        offline_reason = "HF_HUB_OFFLINE is set"
    else:
        try:
            HfApi(endpoint=hub.endpoint).model_info(hub.repo, revision=hub.revision, timeout=hub.timeout_s)
        except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
            # The hub answered: this repo or revision does not exist (or is private). An old cached copy of a
            # revision that is gone would be a surprise, so this goes straight to the bundled model.
            raise _HubFailure(where, f"the hub has no such repo or revision ({_short(exc)})") from None
        except Exception as exc:  # no network, DNS, timeout, server error: try the cache
            offline_reason = f"the hub cannot be reached ({_short(exc)})"

    if offline_reason is None:
        try:
            snapshot = snapshot_download(etag_timeout=hub.timeout_s, **download)
            origin, label = HUB, "Hugging Face hub"
        except Exception as exc:  # the connection dropped half-way: the cache may still have it
            offline_reason = f"the download failed ({_short(exc)})"
    if offline_reason is not None:
        try:
            snapshot = snapshot_download(local_files_only=True, **download)
            origin, label = HUB_CACHE, "Hugging Face hub cache, the hub being out of reach"
        except Exception as exc:
            missing = "the hub cache has no copy of it" if isinstance(exc, LocalEntryNotFoundError) else _short(exc)
            raise _HubFailure(where, f"{offline_reason}, and {missing}") from None

    commit = Path(snapshot).name  # the cache keeps each commit in snapshots/<commit hash>/
    folder = Path(snapshot) / task
    if not folder.is_dir():
        raise _HubFailure(where, f"commit {commit[:7]} has no {task}/ folder", quiet=True)
    source = f"{hub.repo} at {hub.revision} (commit {commit[:7]}; {label})"
    try:
        record = read_model_folder(task, folder, source, origin=origin, repo=hub.repo, revision=hub.revision,
                                   commit=commit, fallback_reason=offline_reason)
        state = litert_state(folder)
        if state != "current":  # serving has no TensorFlow: without its LiteRT copy this folder cannot serve
            raise ModelVerificationError(f"{LITERT_FILE} is {state}; publish with `python -m training.publish`, "
                                         "which converts it")
        verify_model_folder(task, folder, prefer="litert")
    except (ModelUnavailableError, ModelVerificationError) as exc:
        raise _HubFailure(where, f"commit {commit[:7]} has no usable {task} model ({exc})") from None
    return record


def _short(exc: Exception) -> str:
    """The first line of an error, with its type: enough for a log line."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
