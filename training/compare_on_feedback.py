"""Score model folders on the held-out part of a feedback file, as the retrain gate does.

    python -m training.compare_on_feedback runs/feedback_letters_hand_1000.npz models/letters \
        runs/retrain/hand-letters/candidate runs/retrain/mixed2-letters/candidate --json out.json

What a retrain learnt from its corrections shows only against a control: a candidate fine-tuned the same way
on other feedback (the same characters as written, say) scored on the same held-out records. The gate scores
each candidate on its own file only; this scores any models on one file. Held-out records are the ones the
gate keeps out of training (`retrain.held_out`, by record id). `accuracy` is the gate's (the most likely
character, "?" aside); `answered_right` is what the app would record (the right character and not "?"); it is
also split between the held-out corrections (records the served model got wrong when they were sent: what a
retrain should now get right) and the confirmations (what it must keep getting right). A record the person said
is none of the characters ("?") counts as right, in both, when the model answers "?".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _share(hits: np.ndarray) -> float | None:
    return round(float(hits.mean()), 5) if len(hits) else None


def held_out_scores(feedback_path: Path, task: str, folders: list[Path], holdout_fraction: float | None = None) -> dict:
    """Each model's scores on the records the gate holds out (`holdout_fraction`: the retrain's own setting,
    default RetrainSettings')."""
    from handwriting.model_folder import KERAS_FILE
    from handwriting.refusal import RefusalPolicy, refused_mask
    from training.eval_sets import predict_all
    from training.keras_runtime import KerasRuntime
    from training.retrain import RetrainSettings, held_out, load_feedback

    feedback = load_feedback(feedback_path, task)
    keep = held_out(feedback.ids, RetrainSettings().holdout_fraction if holdout_fraction is None else holdout_fraction)
    x, y, corrected = feedback.x[keep], feedback.y[keep], ~feedback.was_correct[keep]
    none = y == len(feedback.labels)  # said to be none of the characters: right when answered "?"
    rows = {}
    for folder in folders:
        probs = predict_all(KerasRuntime(folder / KERAS_FILE), x.astype(np.float32) / 255.0)
        named, refused = probs[:, :len(feedback.labels)].argmax(1) == y, refused_mask(probs, RefusalPolicy.load(folder))
        right, answered = np.where(none, refused, named), np.where(none, refused, named & ~refused)
        rows[str(folder)] = {"accuracy": round(float(right.mean()), 5), "refused": round(float(refused.mean()), 5),
                             "answered_right": round(float(answered.mean()), 5),
                             "corrections_answered_right": _share(answered[corrected]),
                             "confirmations_answered_right": _share(answered[~corrected]),
                             "not_a_character_refused": _share(refused[none])}
    return {"feedback": str(feedback_path), "task": task, "held_out": int(keep.sum()),
            "corrections_among_them": int(corrected.sum()), "not_a_character_among_them": int(none.sum()),
            "models": rows}


def _percent(share: float | None) -> str:
    return "none held out" if share is None else f"{share:.2%}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("feedback")
    parser.add_argument("models", nargs="+", help="model folders (model.keras and refusal.json)")
    parser.add_argument("--task", default=None, help="default: the feedback file's own task")
    parser.add_argument("--holdout-fraction", type=float, default=None,
                        help="the retrain's --holdout-fraction (default: the retrain's default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from training.feedback_file import load_training_file

    task = args.task or load_training_file(args.feedback).task
    result = held_out_scores(Path(args.feedback), task, [Path(m) for m in args.models], args.holdout_fraction)
    for name, row in result["models"].items():
        print(f"{name}: accuracy {row['accuracy']:.2%}, refused {row['refused']:.2%}, answered right "
              f"{row['answered_right']:.2%} (of {result['held_out']} held-out records; corrections "
              f"{_percent(row['corrections_answered_right'])}, confirmations {_percent(row['confirmations_answered_right'])})")
    if args.json:
        from benchmarks.measure import save_result

        save_result(result, Path(args.json), indent=1)
    return result


if __name__ == "__main__":
    main()
