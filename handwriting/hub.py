"""Weights from the Hugging Face hub: one model repo (HANDWRITING_MODEL_REPO) holds a folder per model,
`digits/model.tflite`, `digits/metrics.json`, ...; every published version is a commit tagged
`<task>-v<version>` (made by `python -m training.publish`). HANDWRITING_MODEL_REVISION pins a tag,
branch or commit (default `main`).

`snapshot` asks the hub what the revision is, downloads `<model>/*` at that commit into the hub cache
(files already cached are skipped), and falls back to the cached copy when the hub cannot be reached.
`handwriting.models` checks the folder before it serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handwriting.tasks import Task

HUB, HUB_CACHE = "hub", "hub-cache"


class HubFailure(Exception):
    """Neither the hub nor its cache gave usable weights; the message says why, for the log."""

    def __init__(self, where: str, reason: str, quiet: bool = False):
        super().__init__(reason)
        self.where = where
        self.quiet = quiet  # the hub simply has no such model: worth an info line, not a warning


@dataclass(frozen=True)
class Snapshot:
    """A model folder at a hub commit, on local disk."""

    folder: Path
    origin: str  # HUB or HUB_CACHE
    source: str  # for people
    repo: str
    revision: str
    commit: str
    offline_reason: str | None  # why the hub itself was not asked


def snapshot(task: Task, hub) -> Snapshot:
    """`task`'s model folder from the hub (or its cache) as `hub` (HubSettings) configures it; HubFailure if neither."""
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    where = f"hub repo {hub.repo} at {hub.revision}"
    name = task.model_name
    download = dict(repo_id=hub.repo, revision=hub.revision, allow_patterns=[f"{name}/*"],
                    cache_dir=hub.cache_dir, endpoint=hub.endpoint)
    offline_reason = None
    if constants.is_offline_mode():
        offline_reason = "HF_HUB_OFFLINE is set"
    else:
        try:
            HfApi(endpoint=hub.endpoint).model_info(hub.repo, revision=hub.revision, timeout=hub.timeout_s)
        except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
            # The hub answered that this repo or revision does not exist: an old cached copy of a revision
            # that is gone would be a surprise, so this goes straight to the bundled model.
            raise HubFailure(where, f"the hub has no such repo or revision ({short(exc)})") from None
        except Exception as exc:  # no network, DNS, timeout, server error: try the cache
            offline_reason = f"the hub cannot be reached ({short(exc)})"

    if offline_reason is None:
        try:
            snapshot_dir = snapshot_download(etag_timeout=hub.timeout_s, **download)
            origin, label = HUB, "Hugging Face hub"
        except Exception as exc:  # the connection dropped half-way: the cache may still have it
            offline_reason = f"the download failed ({short(exc)})"
    if offline_reason is not None:
        try:
            snapshot_dir = snapshot_download(local_files_only=True, **download)
            origin, label = HUB_CACHE, "Hugging Face hub cache, the hub being out of reach"
        except Exception as exc:
            missing = "the hub cache has no copy of it" if isinstance(exc, LocalEntryNotFoundError) else short(exc)
            raise HubFailure(where, f"{offline_reason}, and {missing}") from None

    commit = Path(snapshot_dir).name  # the cache keeps each commit in snapshots/<commit hash>/
    folder = Path(snapshot_dir) / name
    if not folder.is_dir():
        raise HubFailure(where, f"commit {commit[:7]} has no {name}/ folder", quiet=True)
    return Snapshot(folder, origin, f"{hub.repo} at {hub.revision} (commit {commit[:7]}; {label})", hub.repo,
                    hub.revision, commit, offline_reason)


def short(exc: Exception) -> str:
    """The first line of an error, with its type: enough for a log line."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
