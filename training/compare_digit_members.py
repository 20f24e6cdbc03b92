"""Which digits ensemble reads best: the served three MNIST CNNs, with or without a member that learnt
from other hands (`training.train_digit_member`).

    python -m training.compare_digit_members runs/base_digits/member_0 runs/base_digits/member_1 \
        runs/base_digits/member_2 --extra runs/digit_member_emnist --out benchmarks/results/digit_members.json

Every combination is the plain average of its members' probabilities, as `training.ensemble` serves it:
no weights are fitted, so nothing is tuned on the evaluation sets (MNIST test as published and uploaded,
USPS, the hw62_dev digit photos), which are only measured here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE


def member_probabilities(folder: Path, sets) -> dict[str, np.ndarray]:
    from training.eval_sets import predict_all
    from training.keras_runtime import KerasRuntime

    runtime = KerasRuntime(Path(folder) / KERAS_FILE)
    out = {}
    for s in sets:  # a 62-class network's digit units, as a distribution over the digits
        digits = predict_all(runtime, s.x)[:, :10]
        out[s.name] = digits / digits.sum(axis=1, keepdims=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("members", nargs="+", help="the served ensemble's member folders")
    parser.add_argument("--extra", nargs="+", required=True, help="candidate members' folders")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from training.evaluate_refusal import real_sets

    sets = [s for s in real_sets("digits", args.data_dir) if not s.name.startswith("emnist_val")]
    base = [member_probabilities(Path(m), sets) for m in args.members]
    extra = {Path(e).name: member_probabilities(Path(e), sets) for e in args.extra}
    combos = {f"served ({len(base)} MNIST CNNs)": base}
    combos.update({f"{name} alone": [probs] for name, probs in extra.items()})
    combos.update({f"served + {name}": base + [probs] for name, probs in extra.items()})
    if len(extra) > 1:
        combos["served + " + " + ".join(extra)] = base + list(extra.values())
    report = {}
    for name, members in combos.items():
        report[name] = {}
        for s in sets:
            mean = np.mean([m[s.name] for m in members], axis=0)
            wrong = int((mean.argmax(1) != s.y).sum())
            report[name][s.name] = {"n": int(len(s.y)), "accuracy": round(1 - wrong / len(s.y), 5), "errors": wrong}
        print(f"{name:45s} " + "  ".join(f"{k} {v['accuracy']:.2%} ({v['errors']})" for k, v in report[name].items()))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
