"""Turn stored feedback into a training file for the retraining pipeline, and report on the Sheets outbox.

    python -m training.feedback export                          # local store -> data/feedback_digits.npz
    python -m training.feedback export --from sheet --out f.npz # read back from the Google Sheet instead
    python -m training.feedback export --corrections-only       # only the records the model got wrong
    python -m training.feedback export --format dataset --out DIR [--push user/repo]  # a Hugging Face dataset
    python -m training.feedback export --from dataset --dataset user/repo --task digits  # ... read back
    python -m training.feedback status                          # records stored, waiting, in doubt, parked

The file (`training.feedback_file.save_training_file`, read with `load_training_file`) holds x (uint8
N x 28 x 28, white ink on black, the exact model input), y (indices into labels), labels, task, ids,
source ("app", "api", "game") and was_correct. Each record appears once, whatever the sheet holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from handwriting.config import settings
from handwriting.feedback import FeedbackRecord, open_store
from handwriting.tasks import TASKS
from training.feedback_file import save_training_file, training_set


def read_records(origin: str, data_dir: Path, dataset: str | None = None) -> list[FeedbackRecord]:
    if origin == "local":  # the SQLite store in data_dir, or the database HANDWRITING_DATABASE_URL names
        return open_store(data_dir).records()
    if origin == "dataset":
        from training.feedback_dataset import read_dataset

        if not dataset:
            raise SystemExit("--from dataset needs --dataset REPO_OR_FOLDER (a dataset written by --format dataset)")
        records, bad = read_dataset(dataset, endpoint=settings().hub.endpoint)
        if bad:
            print(f"skipped {bad} dataset rows that are not feedback records", file=sys.stderr)
        return records
    from handwriting.feedback.sheets import read_sheet_records

    cfg = settings().sheets
    if not cfg.configured:
        raise SystemExit("GOOGLE_SHEETS_KEY is not set: there is no sheet to read (see the README).")
    records, bad = read_sheet_records(cfg)
    if bad:
        print(f"skipped {bad} sheet rows that are not feedback records", file=sys.stderr)
    return records


def export(args) -> int:
    data_dir = Path(args.data_dir) if args.data_dir else settings().data_dir
    records = read_records(args.origin, data_dir, args.dataset)
    if args.corrections_only:
        records = [r for r in records if not r.was_correct]
    if args.format == "dataset":
        return export_dataset(records, args)
    if args.push:
        raise SystemExit("--push uploads a dataset: add --format dataset")
    data = training_set(records, args.task)
    out = Path(args.out) if args.out else data_dir / f"feedback_{args.task}.npz"
    save_training_file(out, data)
    corrections = int((~data.was_correct).sum())
    print(f"{out}: {len(data)} {args.task} records from the {args.origin} store "
          f"({corrections} corrections, {len(data) - corrections} confirmations)")
    return 0


def export_dataset(records: list[FeedbackRecord], args) -> int:
    """Every task's records as a Hugging Face dataset folder (training.feedback_dataset), pushed if asked."""
    from training.feedback_dataset import push_dataset, write_dataset

    if not args.out:
        raise SystemExit("--format dataset needs --out DIR (the dataset folder to write)")
    out = write_dataset(records, args.out)
    print(f"{out}: a dataset of {len({r.id for r in records})} records from the {args.origin} store")
    if args.push:
        commit = push_dataset(out, args.push, endpoint=settings().hub.endpoint)
        print(f"pushed to the dataset repo {args.push} (commit {commit[:12]})")
    return 0


def status(args) -> int:
    from handwriting.feedback.sheets import SINK

    data_dir = Path(args.data_dir) if args.data_dir else settings().data_dir
    store = open_store(data_dir)
    print(f"{store.path}: {store.count()} feedback records")
    for task in TASKS:
        if n := store.count(task):
            print(f"  {task}: {n}")
    counts = store.outbox_counts(SINK)
    print(f"Google Sheet: {counts['delivered']} sent, {counts['waiting']} waiting "
          f"({counts['in_doubt']} in doubt), {counts['parked']} refused by the API")
    for record_id, error in store.last_errors(SINK):
        print(f"  {record_id}: {error}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=None, help="the store's folder (default: $HANDWRITING_STORE_DIR or ./data)")
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("export", parents=[common], help="write a training file")
    ex.add_argument("--task", default="digits", choices=list(TASKS))
    ex.add_argument("--from", dest="origin", default="local", choices=["local", "sheet", "dataset"],
                    help="local: the store (or HANDWRITING_DATABASE_URL's database); sheet; dataset: --dataset")
    ex.add_argument("--dataset", default=None, metavar="REPO_OR_DIR",
                    help="with --from dataset: a dataset repo on the hub, or a folder, written by --format dataset")
    ex.add_argument("--out", default=None, help="the .npz to write (default: <data dir>/feedback_<task>.npz), "
                    "or the dataset folder")
    ex.add_argument("--format", default="npz", choices=["npz", "dataset"],
                    help="npz: one task's training file; dataset: every task's records as a Hugging Face dataset")
    ex.add_argument("--push", default=None, metavar="REPO", help="with --format dataset: upload it to this dataset repo")
    ex.add_argument("--corrections-only", action="store_true", help="leave out the predictions people confirmed")
    ex.set_defaults(run=export)
    st = commands.add_parser("status", parents=[common], help="stored records and the Google Sheet outbox")
    st.set_defaults(run=status)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
