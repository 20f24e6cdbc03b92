"""Publish a model folder to the Hugging Face hub as a new version: one commit, tagged `<task>-v<version>`.

    HF_TOKEN=hf_... python -m training.publish --repo team/handwriting-models            # models/digits
    HF_TOKEN=hf_... python -m training.publish --repo team/handwriting-models --model-dir runs/retrain/digits-.../candidate

Layout of the repo (one repo for every task; `handwriting.hub` reads it at the app's start-up):

    README.md              the repo's card: hub metadata (library, data sets, every task's results), a table
    digits/model.tflite    what the app serves (LiteRT, no TensorFlow), with model.tflite.json naming its source
    digits/model.keras     the weights
    digits/metrics.json    version and measured figures
    digits/README.md       the task's model card: metadata header with metrics, data, limitations
    digits/...             training.json, confusion matrices, retrain_report.json when retrained

Steps: check the folder (the weights load and fit the task, the card has a metadata header, this version
is not on the hub yet), convert `model.tflite` when the folder has none or a stale one (in the upload's
copy; the folder itself is left as it is), create the repo if it does not exist, upload the folder (replacing the task's
previous files) and the repo card in ONE commit, tag that commit `<task>-v<version>`. Then serve it:

    HANDWRITING_MODEL_REPO=team/handwriting-models HANDWRITING_MODEL_REVISION=digits-v1.0.1 python app.py

The token comes from HF_TOKEN (or `hf auth login`); HF_ENDPOINT points at another hub host.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from handwriting.config import quiet_third_parties, settings
from handwriting.tasks import TASKS
from handwriting.model_folder import (CARD_FILE, KERAS_FILE, LITERT_FILE, METRICS_FILE, bundled_folder, litert_state,
                                      read_metrics)
from handwriting.models import verify_model_folder
from training.keras_runtime import KerasRuntime

# Settings
TAG_FORMAT = "{task}-v{version}"  # one tag per published version of a task
REPO_CARD_TITLE = "Handwriting recognition models"


class PublishError(RuntimeError):
    """The folder cannot be published as it is; the message says what to fix."""


def version_tag(task: str, version: str) -> str:
    return TAG_FORMAT.format(task=task, version=version)


def folder_metrics(folder: Path, task: str | None = None) -> dict:
    """The folder's metrics, after checking it has weights, metrics for `task` with a version, and a card header."""
    from huggingface_hub import metadata_load

    for name in (KERAS_FILE, METRICS_FILE, CARD_FILE):
        if not (folder / name).is_file():
            raise PublishError(f"{folder / name} is missing: a model folder needs {KERAS_FILE}, {METRICS_FILE} and {CARD_FILE}.")
    metrics = read_metrics(folder)
    task = task or metrics.get("task")
    if task not in TASKS or metrics.get("task") != task:
        raise PublishError(f"{folder / METRICS_FILE} is for task {metrics.get('task')!r}, not {task!r}.")
    if not metrics.get("version"):
        raise PublishError(f"{folder / METRICS_FILE} has no version.")
    if not metadata_load(folder / CARD_FILE):
        raise PublishError(f"{folder / CARD_FILE} has no metadata header: write it with `python -m training.evaluate`.")
    return metrics


def check_folder(folder: Path, task: str | None = None) -> dict:
    """The folder's metrics, after checking it is a complete, working model folder for its task, serving copy included."""
    metrics = folder_metrics(folder, task)
    task = metrics["task"]
    verify_model_folder(task, folder, KerasRuntime(folder / KERAS_FILE))  # the weights themselves
    state = litert_state(folder)
    if state != "current":
        raise PublishError(f"{folder / LITERT_FILE} is {state}: convert it with `python -m training.export {folder}`.")
    verify_model_folder(task, folder)  # and what the app will serve
    return metrics


def staged_copy(folder: Path, staging: Path, task: str) -> tuple[Path, bool]:
    """`folder` copied to `staging/<task>` for upload, with `model.tflite` converted there if it is missing or stale
    (serving installs cannot run model.keras). Returns the copy and whether it was converted."""
    target = staging / task
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".*", "__pycache__", LITERT_FILE + ".new"))
    if litert_state(target) == "current":
        return target, False
    from training.export import export_litert

    try:
        export_litert(target)
    except Exception as exc:
        raise PublishError(f"{folder / KERAS_FILE} could not be converted to {LITERT_FILE} "
                           f"({type(exc).__name__}: {exc}).") from exc
    return target, True


def repo_card(repo: str, cards: dict[str, tuple[dict, dict]]) -> str:
    """The repo's README.md: every task card's hub metadata merged, and a table of the tasks.

    `cards` maps task -> (its card's metadata, its metrics).
    """
    merged: dict = {"library_name": "keras", "license": "mit", "pipeline_tag": "image-classification",
                    "tags": [], "datasets": [], "metrics": [], "model-index": []}
    for meta, _ in cards.values():
        for key in ("tags", "datasets", "metrics"):
            merged[key] += [v for v in meta.get(key) or [] if v not in merged[key]]
        merged["model-index"] += meta.get("model-index") or []
        merged["license"] = meta.get("license", merged["license"])
    rows = "\n".join(
        f"| {task} | {m['version']} | `{version_tag(task, m['version'])}` | {m.get('headline', '')} | "
        f"[{task}/README.md]({task}/README.md) |"
        for task, (_, m) in sorted(cards.items())
    )
    example = sorted(cards)[0]
    tag = version_tag(example, cards[example][1]["version"])
    return f"""---
{_yaml(merged)}---

# {REPO_CARD_TITLE}

The weights the handwriting recognition demo serves, one folder per task, each with its own model card.
Every published version is a commit tagged `<task>-v<version>`; `main` holds the latest of every task.

| task | version | tag | figures | model card |
|---|---|---|---|---|
{rows}

Serve a version with the app: `HANDWRITING_MODEL_REPO={repo} HANDWRITING_MODEL_REVISION={tag} python app.py`.
Load it yourself:

```python
import keras
from huggingface_hub import hf_hub_download

path = hf_hub_download("{repo}", "{example}/model.keras", revision="{tag}")
model = keras.saving.load_model(path)  # input: N x 28 x 28 x 1 float32 in [0, 1], white ink on black
```
"""


def _yaml(data: dict) -> str:
    from huggingface_hub.utils import yaml_dump

    return yaml_dump(data, sort_keys=False)


def _other_tasks_on_hub(api, repo: str, task: str, workdir: Path) -> dict[str, tuple[dict, dict]]:
    """Card metadata and metrics of the tasks already on the hub's main branch, except `task`."""
    from huggingface_hub import hf_hub_download, metadata_load

    files = set(api.list_repo_files(repo))
    found = {}
    for other in sorted({f.split("/")[0] for f in files if f.count("/") == 1} - {task}):
        if {f"{other}/{METRICS_FILE}", f"{other}/{CARD_FILE}"} <= files:
            get = lambda name: Path(hf_hub_download(repo, f"{other}/{name}", endpoint=api.endpoint,  # noqa: E731
                                                    cache_dir=workdir / "cache"))
            found[other] = (metadata_load(get(CARD_FILE)) or {}, json.loads(get(METRICS_FILE).read_text()))
    return found


def publish(folder: Path | str, repo: str, task: str | None = None, private: bool = False) -> dict:
    """Upload `folder` as the next version of its task in `repo`, tag it; returns what was published."""
    from huggingface_hub import HfApi, metadata_load

    folder = Path(folder)
    metrics = folder_metrics(folder, task)
    task, version = metrics["task"], str(metrics["version"])
    tag = version_tag(task, version)
    api = HfApi(endpoint=settings().hub.endpoint)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        staging = workdir / "upload"
        staged, converted = staged_copy(folder, staging, task)
        check_folder(staged, task)  # everything is checked before the hub is asked anything

        api.create_repo(repo, exist_ok=True, private=private)
        if tag in {t.name for t in api.list_repo_refs(repo).tags}:
            raise PublishError(f"{repo} already has {tag}: a published version never changes; give this one a new version.")
        cards = _other_tasks_on_hub(api, repo, task, workdir)
        cards[task] = (metadata_load(folder / CARD_FILE) or {}, metrics)
        (staging / CARD_FILE).write_text(repo_card(repo, cards))
        commit = api.upload_folder(
            repo_id=repo,
            folder_path=staging,
            commit_message=f"{task} model {version}",
            commit_description=metrics.get("headline", ""),
            delete_patterns=[f"{task}/*"],  # files the previous version had and this one has not
        )
    api.create_tag(repo, tag=tag, revision=commit.oid, tag_message=f"{task} model {version}: {metrics.get('headline', '')}")
    return {"repo": repo, "task": task, "version": version, "tag": tag, "commit": commit.oid,
            "url": f"{api.endpoint}/{repo}/tree/{tag}", "converted_litert": converted}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="hub model repo id, e.g. team/handwriting-models (created if missing)")
    parser.add_argument("--task", default="digits", choices=sorted(TASKS), help="default: digits")
    parser.add_argument("--model-dir", default=None, help="model folder to publish (default: models/<task>)")
    parser.add_argument("--private", action="store_true", help="create the repo private (when it does not exist yet)")
    args = parser.parse_args(argv)
    quiet_third_parties()  # no telemetry: before huggingface_hub is imported

    folder = Path(args.model_dir) if args.model_dir else bundled_folder(args.task)
    try:
        done = publish(folder, args.repo, args.task, private=args.private)
    except PublishError as exc:
        raise SystemExit(f"Not published: {exc}") from None
    print(f"published {done['task']} {done['version']} to {done['repo']}: commit {done['commit'][:7]}, tag {done['tag']}"
          + (f" ({LITERT_FILE} converted for it)" if done["converted_litert"] else ""))
    print(f"  {done['url']}")
    print(f"  serve it: HANDWRITING_MODEL_REPO={done['repo']} HANDWRITING_MODEL_REVISION={done['tag']} python app.py")
    return done


if __name__ == "__main__":
    main()
