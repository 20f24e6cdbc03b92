"""Feedback records as a Hugging Face dataset: a folder `datasets.load_dataset(folder)` reads, and the same
folder pushed to a dataset repo, so retraining (or anyone) can take corrections from the hub.

The layout is the hub's own: README.md (the dataset card: YAML front matter naming the features, licence
and split files, then how the records were collected) and data/train-00000-of-00001.parquet with one row
per record: image (the 28x28 model input as a PNG, white ink on black), label (the right answer),
predicted, task, source, was_correct, created.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
from pathlib import Path
from typing import Iterable

from PIL import Image

from handwriting.feedback import FeedbackRecord
from handwriting.tasks import TASKS

DATA_FILE = "data/train-00000-of-00001.parquet"
LICENSE = "cc-by-4.0"

_CARD = """---
license: {license}
pretty_name: Handwriting demo feedback
task_categories:
- image-classification
size_categories:
- {size}
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype: string
  - name: predicted
    dtype: string
  - name: task
    dtype: string
  - name: source
    dtype: string
  - name: was_correct
    dtype: bool
  - name: created
    dtype: string
  splits:
  - name: train
    num_examples: {n}
---

# Handwriting demo feedback

Characters people drew or uploaded in the handwriting-recognition demo, each with the answer they said
was right. {n} records ({corrections} corrections, {confirmations} confirmations of the model's answer);
tasks: {tasks}.

## How the records were collected

- **app**: a visitor drew or uploaded a character on the page, saw the model's answer and pressed
  "Yes" (a confirmation) or sent the right answer (a correction).
- **api**: a caller of the public API sent the same answer to `/feedback`.
- **game**: drawings from rounds of the drawing game, only from players who ticked the box agreeing to
  keep their drawings to train better models (a round without that consent stores nothing); the label
  is the character the game asked for.

Nothing else about the person is kept: no name, address or account. The original uploads stay with the
app's operator and are not part of this dataset.

## Fields

| field | meaning |
|---|---|
| image | the 28x28 picture the model was given (PNG, white ink on black, MNIST convention) |
| label | the right answer, as the person gave it; `?` when they said the picture is none of the task's characters |
| predicted | what the model answered (`?`: none of them) |
| task | `digits`, `letters` or `all` (the model's label set) |
| source | `app`, `api` or `game` (above) |
| was_correct | whether the model's answer was right (label == predicted) |
| created | when the record was stored (UTC, ISO 8601) |

Licence: {license_name}.
"""


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def write_dataset(records: Iterable[FeedbackRecord], out: Path | str) -> Path:
    """Write the records (each id once, in the order given) as a dataset folder at `out`; returns it.
    A folder written before is replaced whole, so no stale shard is left beside the new one."""
    from datasets import Dataset, Features, Image, Value

    seen: set[str] = set()
    rows = {"image": [], "label": [], "predicted": [], "task": [], "source": [], "was_correct": [], "created": []}
    for r in records:
        if r.id in seen:
            continue
        seen.add(r.id)
        rows["image"].append({"bytes": base64.b64decode(r.image_png_b64), "path": None})
        rows["label"].append(r.correct)
        rows["predicted"].append(r.predicted)
        rows["task"].append(r.task)
        rows["source"].append(r.source)
        rows["was_correct"].append(r.was_correct)
        rows["created"].append(r.created_at)
    features = Features({"image": Image(), "label": Value("string"), "predicted": Value("string"),
                         "task": Value("string"), "source": Value("string"), "was_correct": Value("bool"),
                         "created": Value("string")})
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / DATA_FILE).parent.mkdir(parents=True)
    Dataset.from_dict(rows, features=features).to_parquet(str(out / DATA_FILE))
    n = len(rows["label"])
    corrections = rows["was_correct"].count(False)
    (out / "README.md").write_text(_CARD.format(
        license=LICENSE, license_name="Creative Commons Attribution 4.0", size=_size_category(n), n=n,
        corrections=corrections, confirmations=n - corrections,
        tasks=", ".join(sorted(set(rows["task"]))) or "none yet"))
    return out


def push_dataset(folder: Path | str, repo: str, token: str | None = None, endpoint: str | None = None) -> str:
    """Upload the dataset folder to the dataset repo `repo` (created if missing) in one commit; returns the
    commit's id. HF_TOKEN (or `token`) must be allowed to write there."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                             commit_message="Feedback records from the handwriting demo",
                             delete_patterns=["data/*.parquet"])  # the new shard replaces the old ones
    return info.oid


def read_dataset(source: str, token: str | None = None, endpoint: str | None = None) -> tuple[list[FeedbackRecord], int]:
    """The records of a dataset written by `write_dataset`: a local folder, or a dataset repo on the hub
    (downloaded). Rows are checked as anything from the network is: a label outside its task, an unknown
    task or source, or an image that is not a 28x28 picture is skipped. Returns (records, rows skipped).
    A record's id is made from its content (the dataset has none), so a row read twice counts once."""
    import pyarrow.parquet as pq

    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(source, repo_type="dataset", token=token, endpoint=endpoint,
                                        allow_patterns=["data/*.parquet"]))
    records, skipped = [], 0
    for shard in sorted((folder / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            record = _record_of(row)
            if record is None:
                skipped += 1
            else:
                records.append(record)
    return records, skipped


def _record_of(row: dict) -> FeedbackRecord | None:
    try:
        task, label, predicted = TASKS[row["task"]], str(row["label"]), str(row["predicted"])
        png = bytes(row["image"]["bytes"])
        if not (task.has(label) and task.has(predicted) and row["source"] in ("app", "api", "game")):
            return None
        with Image.open(io.BytesIO(png)) as img:  # the header first: no decoding of a picture of another size
            if img.size != (28, 28) or img.format != "PNG":
                return None
            img.load()
    except (KeyError, TypeError, ValueError, OSError, SyntaxError, Image.DecompressionBombError):
        return None
    created = str(row.get("created") or "")
    digest = hashlib.sha256(b"\0".join([png, label.encode(), predicted.encode(), created.encode()])).hexdigest()
    return FeedbackRecord(digest[:32], created, task.name, "", predicted, float("nan"), label, row["source"],
                          base64.b64encode(png).decode("ascii"))
