"""Which digits ensemble reads best: the served MNIST CNNs, with or instead of members that learnt from
other hands (`training.train_digit_member`).

    python -m training.compare_digit_members runs/base_digits/member_0 runs/base_digits/member_1 \
        runs/base_digits/member_2 runs/digit_member_emnist --out benchmarks/results/digit_members.json

Every combination of 3 or more of the given members is the plain average of their probabilities, as
`training.ensemble` serves it: no weights are fitted. The choice among the combinations that cost what the
served ensemble costs (as many members) is made on EMNIST's validation-tenth digits, which none of the
MNIST CNNs saw and `train_digit_member` only used to keep its best epoch; the evaluation sets (MNIST test
as published and uploaded, USPS, the hw62_dev digit photos) are only measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE

SELECTION_SET = "emnist_val_digits"


def member_probabilities(folder: Path, sets) -> dict[str, np.ndarray]:
    from training.eval_sets import predict_all
    from training.keras_runtime import KerasRuntime

    runtime = KerasRuntime(Path(folder) / KERAS_FILE)
    out = {}
    for s in sets:  # a 62-class network's digit units, as a distribution over the digits
        digits = predict_all(runtime, s.x)[:, :10]
        out[s.name] = digits / digits.sum(axis=1, keepdims=True)
    return out


def comparison_sets(data_dir):
    from dataclasses import replace

    from training.eval_sets import emnist_validation_set
    from training.evaluate_refusal import real_sets

    sets = [s for s in real_sets("digits", data_dir) if not s.name.startswith("emnist_val")]
    return sets + [replace(emnist_validation_set("digits"), name=SELECTION_SET,
                           description="EMNIST validation-tenth digits (the selection set)")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("members", nargs="+", help="member folders; the first --served of them are the served ensemble")
    parser.add_argument("--served", type=int, default=3, help="how many of the members the served ensemble has (default 3)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    sets = comparison_sets(args.data_dir)
    names = [Path(m).name for m in args.members]
    probs = {name: member_probabilities(Path(m), sets) for name, m in zip(names, args.members)}
    report = {"members": dict(zip(names, args.members)), "combinations": {}}
    for size in range(args.served, len(names) + 1):
        for combo in itertools.combinations(names, size):
            key = " + ".join(combo)
            report["combinations"][key] = {}
            for s in sets:
                mean = np.mean([probs[n][s.name] for n in combo], axis=0)
                wrong = int((mean.argmax(1) != s.y).sum())
                report["combinations"][key][s.name] = {"n": int(len(s.y)), "accuracy": round(1 - wrong / len(s.y), 5),
                                                       "errors": wrong}
            print(f"{key:75s} " + "  ".join(f"{k} {v['accuracy']:.2%}" for k, v in report["combinations"][key].items()))
    same_cost = [k for k in report["combinations"] if len(k.split(" + ")) == args.served]
    report["chosen"] = max(same_cost, key=lambda k: report["combinations"][k][SELECTION_SET]["accuracy"])
    report["served"] = " + ".join(names[: args.served])
    print(f"served: {report['served']}\nchosen on {SELECTION_SET} among {args.served}-member combinations: {report['chosen']}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
