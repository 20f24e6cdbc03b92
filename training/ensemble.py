"""Average several independently trained copies of the original CNN into one served model.

    python -m training.ensemble digits runs/digits_s0 runs/digits_s1 runs/digits_s2 --out models/digits

Each member is the original architecture, unchanged, trained by `training.train` with its own seed;
the served model averages their softmax outputs (one `.keras` file, one call per request). The
members' own scores stay in the model card as the single-model baseline. Runs the evaluation after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE, read_metrics, read_training, write_training


def build_ensemble(member_paths: list[Path], num_classes: int):
    import keras

    from training.model import INPUT_SHAPE, build_model

    inputs = keras.Input(shape=INPUT_SHAPE)
    outputs = []
    for i, path in enumerate(member_paths):
        trained = keras.saving.load_model(path, compile=False)
        member = build_model(num_classes, name=f"member_{i}", compile=False)  # no optimizer state to save
        member.set_weights(trained.get_weights())
        outputs.append(member(inputs))
    averaged = keras.layers.Average(name="mean_probabilities")(outputs)
    return keras.Model(inputs, averaged, name="handwriting_cnn_ensemble")


def ensemble_record(members: list[dict]) -> dict:
    """training.json of an averaged model: the first member's record, each setting that differs (and always the
    epochs and seeds) as "a/b/c" over the members, the members' records in full, and the data of each when they
    learnt from different data."""
    def each(key) -> str:
        return "/".join(str(key(m)) for m in members)

    summary = dict(members[0])
    keys = dict.fromkeys(k for m in members for k in m["settings"])
    summary.update(
        kind="ensemble",
        members=members,
        settings={k: members[0]["settings"].get(k) if len({str(m["settings"].get(k)) for m in members}) == 1
                  else each(lambda m, k=k: m["settings"].get(k)) for k in keys} | {
                  "epochs": each(lambda m: m["settings"]["epochs"]), "seed": each(lambda m: m["settings"]["seed"])},
        training_seconds=each(lambda m: m["training_seconds"]),
        best_epoch=each(lambda m: m["best_epoch"]),
        best_val_accuracy=each(lambda m: f"{m['best_val_accuracy']:.2%}"),
    )
    if len({m.get("data") for m in members}) > 1:
        summary["data"] = "; ".join(f"member {i}: {m.get('data')}" for i, m in enumerate(members))
        summary["train_size"] = each(lambda m: m.get("train_size", "?"))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "letters", "all"])
    parser.add_argument("members", nargs="+", help="model folders written by training.train")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--version", default=None)
    args = parser.parse_args(argv)

    folders = [Path(m) for m in args.members]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = build_ensemble([f / KERAS_FILE for f in folders], len(labels_for(args.task)))
    model.save(out / KERAS_FILE)

    members = []
    for folder in folders:
        record = read_training(folder)
        if metrics := read_metrics(folder):
            record["results"] = {k: v["accuracy"] for k, v in metrics["results"].items()}
        record.pop("val_accuracy_history", None)
        members.append({"folder": str(folder), **record})
    summary = ensemble_record(members)
    write_training(out, summary)
    from training.export import export_litert

    export_litert(out)
    print(f"saved {out / KERAS_FILE}: the mean of {len(folders)} members")

    from training import evaluate

    extra = (["--data-dir", args.data_dir] if args.data_dir else []) + (["--version", args.version] if args.version else [])
    evaluate.main([args.task, "--model-dir", str(out)] + extra)


if __name__ == "__main__":
    main()
