"""Retrain a task's model from user feedback; promote the new version only if it is no worse anywhere.

    python -m training.retrain --task digits --feedback feedback.npz --data-dir ../shared/datasets
    python -m training.retrain --task digits --feedback feedback.npz --publish team/handwriting-models
    python -m training.retrain --task letters --feedback letters.npz --data-dir ../shared/datasets

1. The current model: the one the app serves (`handwriting.models.resolve`: the hub at
   HANDWRITING_MODEL_REVISION, else the bundled folder), or --base-model DIR. Any Keras model: a single
   CNN or the averaged ensemble, fine-tuned as it is.
2. The training set, built fresh each epoch: the base data (digits: MNIST train; letters and all: the EMNIST
   training part of `training.emnist_cache`, built from the data folder's EMNIST files when missing, plus
   MNIST train for all; case-merged ByMerge images left out; and the synthetic font renders the base model's
   training record names, rendered once when missing: `synthetic_cache_for`), generated rotated, zoomed and
   shifted variants of every image (the training augmentation), and the feedback file's training part:
   each correction (a record the model got wrong) repeated CORRECTION_REPEATS times, each confirmation
   CONFIRMATION_REPEATS times. A record the person said is none of the characters ("?") teaches a "?" model
   its none unit; a model without one cannot learn it, and such records are left out (the report counts
   them). A fixed share of the feedback, chosen by a hash of each record's id so the
   same records stay out run after run, is never trained on: it is an evaluation set.
3. Fine-tune: load, compile with Adam at a low learning rate, fit a few epochs with `training.fit`, the recipe
   `training.train` uses (augmentation, learning-rate decay). A "?" model's features stay as they are: by
   default only its character layers learn (`--learn`); "new-head" then trains the "?" head again, by the
   recipe the served one was made with, the feedback among its characters, and calibrates it as shipped
   (`training.new_head`); "all" lets every layer learn.
4. Evaluate old and new on the same fixed sets: digits: MNIST test, USPS and the hw62_dev digit photos;
   letters and all: the EMNIST validation tenth, the hw62_dev photos of the task (and MNIST test for all),
   each when the data folder (or the EMNIST cache) has it (evaluation only, never training); and the
   held-out feedback. Letters and all fine-tune with class weights count^-p, p the base model's prior
   power (`prior_power` in its training.json; `--balance`), so the prior correction baked into their last
   layer stays what it was.
5. The gate: the new version is promoted only if on EVERY set its accuracy is not below the old one's by
   more than the tolerance plus the noise of that set (NOISE_Z standard errors of the paired difference:
   small sets get more room, large ones little). A "?" model must also refuse no more of each set's real
   characters, and no fewer of what it must keep refusing (`gate_negatives`: fresh drawings of the training
   doodle families; digits also EMNIST validation letters that look like no digit; and the held-out records
   people said are none of the characters).
6. Either way it writes `report.json` and `report.md` in --out, and the candidate model folder (weights,
   their LiteRT copy for serving, metrics.json, model card with the comparison) in --out/candidate. When the gate passes, --promote-to
   DIR copies the candidate there and --publish REPO publishes it to the hub (`training.publish`).

Exit status 0 whether or not the gate promoted (read "promoted" in report.json), 1 on errors.
--shuffle-labels trains on shuffled labels: a negative control the gate must refuse.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handwriting.config import quiet_third_parties
from handwriting.tasks import labels_for
from handwriting.model_folder import CARD_FILE, KERAS_FILE, RETRAIN_REPORT_FILE, read_training, write_training
from handwriting.models import read_model_folder, verify_model_folder
from handwriting.models import resolve as resolve_model
from training.keras_runtime import KerasRuntime, load_any
from training.config import RETRAIN_RUNS
from training.feedback_file import load_training_file
from training.fit import class_weights  # noqa: F401  (the gate and tests use it from here too)


SETTING_CHOICES = {"balance": ("auto", "on", "off"), "learn": ("characters", "new-head", "all")}  # the words a setting takes


@dataclass
class RetrainSettings:
    """Every knob of a retraining run; each is also a command-line option."""

    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-4  # Adam; low, to adjust the model rather than retrain it
    lr_decay_per_epoch: float = 0.5
    correction_repeats: int = 10  # copies per epoch of each record the model got wrong
    confirmation_repeats: int = 1  # copies per epoch of each record the model got right
    holdout_fraction: float = 0.2  # share of the feedback (by record id) kept out of training, for the gate
    rotation_deg: float = 10.0  # the generated variants: rotation, zoom and shift, as in training.train
    zoom: float = 0.10
    shift: float = 0.10
    tolerance: float = 0.001  # accuracy a set may lose (0.1 percentage point) ...
    noise_z: float = 2.0  # ... plus this many standard errors of the paired old/new difference
    seed: int = 0
    balance: str = "auto"  # class weights count^-power: "auto" (the base model's prior_power; digits none), "on" (1), "off"
    shuffle_labels: bool = False  # negative control: learn noise; the gate must refuse the result
    # "?" models: "characters" (only the character layers learn: the features the "?" head reads stay as they
    # were), "new-head" (the character layers learn, then a "?" head is trained again by the served one's
    # recipe with the feedback among its characters: `training.new_head`) or "all" (every layer)
    learn: str = "characters"

    def __post_init__(self):
        """A misspelt word must not quietly pick another behaviour."""
        for name, allowed in SETTING_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")


FEEDBACK_SET = "feedback_heldout"


# ---------------------------------------------------------------------------------------------------
# Data


def load_feedback(path: Path, task: str):
    """The feedback training file, checked against the task (its labels must be the task's, in order)."""
    data = load_training_file(path)
    if data.task != task or tuple(data.labels) != labels_for(task):
        raise SystemExit(f"{path} holds {data.task!r} feedback with labels {list(data.labels)}, not {task!r} feedback.")
    if data.x.shape[1:] != (28, 28) or data.x.dtype != np.uint8:
        raise SystemExit(f"{path}: x must be uint8 N x 28 x 28, not {data.x.dtype} {data.x.shape}.")
    return data


def without_none_feedback(feedback, policy):
    """(the feedback a model with `policy` can learn from, how many records were left out): records said to
    be none of the characters ("?", y == len(labels)) need a none unit to learn from."""
    from dataclasses import replace

    none = feedback.y == len(feedback.labels)
    if policy.none_unit or not none.any():
        return feedback, 0
    keep = ~none
    return replace(feedback, x=feedback.x[keep], y=feedback.y[keep], ids=feedback.ids[keep],
                   source=feedback.source[keep], was_correct=feedback.was_correct[keep]), int(none.sum())


def held_out(ids, fraction: float) -> np.ndarray:
    """Which records the gate keeps for evaluation: decided by each id's hash, so stable across runs."""
    buckets = [int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) / 2**32 for i in ids]
    return np.array(buckets, dtype=np.float64) < fraction


def with_synthetic(task: str, x: np.ndarray, y: np.ndarray, description: str, synthetic) -> tuple[np.ndarray, np.ndarray, str]:
    """The base data plus the synthetic font renders of `task`'s classes (the 1.1.0 character models learnt from them too)."""
    from training.letters_data import from_all_labels
    from training.synthetic import load_cache

    sx, sy, _fonts, _info = load_cache(synthetic)
    sx, sy = from_all_labels(task, sx, sy.astype(np.int64))
    return (np.concatenate([x, sx]), np.concatenate([y, sy]),
            f"{description} + {len(sy):,} synthetic font renders ({Path(synthetic).name})")


def synthetic_cache_for(task: str, base_folder: Path, given=None) -> Path | None:
    """The font renders the base model learnt from, so a retrain keeps showing them: `given`, else the cache
    its training record names (settings.synthetic) in data/synthetic, rendered here when missing (the fonts
    are fetched from npm, Debian and PyPI by `training.fonts`, the renders are seeded: the same cache again).
    None for a model that learnt from none (digits)."""
    if given:
        return Path(given)
    from handwriting.model_folder import read_training

    name = (read_training(base_folder).get("settings") or {}).get("synthetic")
    if task == "digits" or not name:
        return None
    from training.config import SYNTHETIC_DIR

    path = SYNTHETIC_DIR / name
    if path.exists():
        return path
    found = re.fullmatch(r"synthetic_pc(\d+)_s(\d+)\.npz", name)
    if not found:
        raise SystemExit(f"the base model learnt from {name}, which is not in {SYNTHETIC_DIR}: pass --synthetic-cache")
    from training.fonts import default_fonts_dir, load_manifest
    from training.synthetic import build_cache

    try:
        load_manifest(default_fonts_dir())
    except FileNotFoundError:
        raise SystemExit(f"the base model learnt from the font renders {name}: fetch the fonts first "
                         "(bash scripts/fetch_fonts.sh), then run this again to render them") from None
    print(f"rendering {name}, which the base model learnt from (once; it is cached in {SYNTHETIC_DIR})")
    return build_cache(int(found.group(1)), int(found.group(2)), out=path)


def base_training_data(task: str, data_dir, emnist_cache=None) -> tuple[np.ndarray, np.ndarray, str]:
    """What the task's model was trained on (x uint8, y, a description), the part retraining keeps showing it.

    digits: MNIST train. letters and all: the EMNIST training part of the preprocessed cache (built from the
    data folder's EMNIST files if the cache is missing), without its validation tenth and without ByMerge's
    case-merged images; plus MNIST train (already in the cache) for all. Without EMNIST, all falls back to
    MNIST train and letters to the feedback alone (the gate still protects the served model).
    """
    from training.data import default_data_dir, load_mnist

    if task == "digits":
        train, _ = load_mnist(data_dir)
        return train.x, train.y, "MNIST train"
    from training.emnist_cache import build, cache_path, load

    path = cache_path(emnist_cache)
    folder = Path(data_dir or default_data_dir())
    if not path.exists() and all((folder / f).exists() for f in ("emnist_byclass.npz", "emnist_bymerge_extra.npz", "mnist.npz")):
        print(f"building the preprocessed EMNIST cache {path} from {folder} (once)")
        build(folder, path)
    if path.exists():
        d = load(path)
        keep = ~d["validation"] & ~d["case_ambiguous"]
        y = d["y"].astype(np.int64)
        if task == "letters":
            keep &= y >= 10
        x, y = d["x"][keep], y[keep]
        if task == "letters":
            y = y - 10
        sources = ", ".join(f"{name} {int((d['source'][keep] == k).sum()):,}" for k, name in enumerate(d["info"]["sources"])
                            if (d["source"][keep] == k).any())
        return x, y, f"{path.name} training part ({sources})"
    if task == "all":
        try:
            train, _ = load_mnist(data_dir)
            return train.x, train.y, "MNIST train (no EMNIST found)"
        except Exception:
            pass
    return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), "none (no EMNIST found): feedback only"


def balance_power(settings, task: str, base_folder: Path) -> float:
    """How strongly to weight classes: the base model's own prior correction ("auto"), 1 ("on") or 0 ("off")."""
    if settings.balance in ("on", "off"):
        return 1.0 if settings.balance == "on" else 0.0
    if task != "digits" and (training := read_training(base_folder)):
        return float(training.get("prior_power", 1.0))
    return 0.0 if task == "digits" else 1.0


def build_training_set(base_x, base_y, feedback, train_mask, settings: RetrainSettings):
    """(x uint8, y, composition): the base data plus the feedback's training part, oversampled."""
    x_fb, y_fb, right = feedback.x[train_mask], feedback.y[train_mask], feedback.was_correct[train_mask]
    repeats = np.where(right, settings.confirmation_repeats, settings.correction_repeats)
    pick = np.repeat(np.arange(len(y_fb)), repeats)
    x = np.concatenate([base_x, x_fb[pick]])
    y = np.concatenate([base_y, y_fb[pick]]).astype(np.int64)
    if settings.shuffle_labels:
        y = np.random.default_rng(settings.seed).permutation(y)
    composition = {
        "base_data": "",
        "base_images": int(len(base_y)),
        "feedback_records": int(len(y_fb)),
        "corrections": int((~right).sum()),
        "confirmations": int(right.sum()),
        "correction_repeats": settings.correction_repeats,
        "confirmation_repeats": settings.confirmation_repeats,
        "not_a_character": int((y_fb == len(feedback.labels)).sum()),  # among the corrections and confirmations
        "images_per_epoch": int(len(y)),
        "labels_shuffled": settings.shuffle_labels,
    }
    return x, y, composition


def as_people_send(task: str, emnist) -> list:
    """The EMNIST validation tenth's characters (`emnist`, None without the cache) drawn on the sketchpad and
    photographed: the looks feedback from the page has (`evaluate_refusal.restyled_validation`)."""
    from training.evaluate_refusal import restyled_validation

    return restyled_validation(task, emnist, cached=False)


def character_sets(task: str, data_dir, emnist_cache=None) -> list:
    """Letters and all: the EMNIST validation tenth, as it is and drawn and photographed, the task's hw62_dev
    photos and (all) MNIST test, where found."""
    from training.evaluate import EvalSet, emnist_validation_set, hw62_set

    sets = []
    emnist = emnist_validation_set(task, emnist_cache)
    if emnist is not None:
        sets.append(emnist)
        sets += as_people_send(task, emnist)
    try:
        sets.append(hw62_set(task, data_dir))
    except FileNotFoundError:
        pass
    if task == "all":
        from training.data import default_data_dir, load_mnist

        if (Path(data_dir or default_data_dir()) / "mnist.npz").exists():
            _, test = load_mnist(data_dir)
            sets.append(EvalSet("mnist_test", test.x.astype(np.float32) / 255.0, test.y,
                                f"MNIST test set, {len(test.y):,} digits, as published (already 28x28)"))
    return sets


EXPECTED_SETS = {"digits": ("mnist_test", "usps", "hw62_digits"), "letters": ("emnist_val", "hw62_letters"),
                 "all": ("emnist_val", "hw62_all", "mnist_test")}


def evaluation_sets(task: str, data_dir, feedback, holdout_mask, emnist_cache=None) -> tuple[list, dict[str, str]]:
    """The fixed sets old and new are compared on, and the ones that could not be found (with why)."""
    from training.evaluate import EvalSet, digit_sets, emnist_validation_set

    if task == "digits":
        sets = digit_sets(data_dir, skip_missing=True) + as_people_send(task, emnist_validation_set(task, emnist_cache))
    else:
        sets = character_sets(task, data_dir, emnist_cache)
    missing = {name: "not found in the data folder" for name in EXPECTED_SETS[task]
               if name not in {s.name for s in sets}}
    named = holdout_mask & (feedback.y < len(feedback.labels))  # those said to be no character: `none_held_out`
    n = int(named.sum())
    if n:
        corrections = int((~feedback.was_correct[named]).sum())
        sets.append(EvalSet(FEEDBACK_SET, feedback.x[named].astype(np.float32) / 255.0, feedback.y[named],
                            f"held-out feedback: {n} records ({corrections} corrections), never trained on"))
    else:
        missing[FEEDBACK_SET] = "no held-out feedback record names a character"
    return sets, missing


NONE_FEEDBACK_SET = "held-out feedback said to be no character"


def none_held_out(feedback, holdout_mask) -> dict[str, np.ndarray]:
    """The held-out records people said are none of the characters, as a set a "?" model must refuse."""
    none = holdout_mask & (feedback.y == len(feedback.labels))
    return {NONE_FEEDBACK_SET: feedback.x[none].astype(np.float32) / 255.0} if none.any() else {}


# ---------------------------------------------------------------------------------------------------
# Fine-tuning


def fine_tune(weights: Path, x: np.ndarray, y: np.ndarray, settings: RetrainSettings, sample_weight: np.ndarray | None = None,
              character_layers_only: int | None = None):
    """The model in `weights`, fitted further on (x, y) by `training.fit` (the recipe `training.train` uses), with
    per-image weights if given; returns the Keras model.

    `character_layers_only` (the task's number of characters): only the layers that turn features into those
    characters learn; everything under them stays as it was. A "?" model's none unit reads those features:
    moving them makes "?" fade (docs/retraining.md)."""
    import keras

    from training.fit import fit

    keras.utils.set_random_seed(settings.seed)
    model = keras.saving.load_model(weights, compile=False)
    if character_layers_only:
        for layer in model._flatten_layers(include_self=False, recursive=True):
            if not layer._layers:  # a leaf: its own flag decides (a container's would override its children's)
                layer.trainable = (isinstance(layer, keras.layers.Dense) and layer.units == character_layers_only)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit(model, x, y, settings, sample_weight=sample_weight)
    return model


# ---------------------------------------------------------------------------------------------------
# The gate


def allowed_change(settings: RetrainSettings, changed: int, n: int) -> float:
    """How far a share of a set may move before the gate calls it a change: the tolerance, or `noise_z`
    standard errors of a paired difference in which `changed` of `n` images went one way or the other."""
    return max(settings.tolerance, settings.noise_z * np.sqrt(changed) / n)


def compare(old_runtime, new_runtime, sets, labels, settings: RetrainSettings, old_policy=None,
            new_policy=None) -> tuple[dict, dict, dict]:
    """Both models on the same sets: (old results, new results, per-set comparison with verdicts).

    With refusal policies ("?" models), accuracy is over the characters (the argmax without the none unit)
    and each row also compares how many of the set's real characters each model refuses."""
    from handwriting.refusal import RefusalPolicy, refused_mask
    from training.evaluate import character_scores, predict_all, score_set

    old_policy, new_policy = old_policy or RefusalPolicy.never(), new_policy or RefusalPolicy.never()
    scorer = character_scores if any(c.isalpha() for c in labels) else score_set  # letters: case-insensitive too
    old_results, new_results, rows = {}, {}, {}
    for s in tqdm(sets, desc="comparing old and new", unit="set"):
        full_old, full_new = predict_all(old_runtime, s.x), predict_all(new_runtime, s.x)
        p_old = full_old[:, :len(labels)]
        p_new = full_new[:, :len(labels)]
        old_results[s.name], new_results[s.name] = scorer(p_old, s, labels), scorer(p_new, s, labels)
        old_right, new_right = p_old.argmax(1) == s.y, p_new.argmax(1) == s.y
        lost, gained = int((old_right & ~new_right).sum()), int((~old_right & new_right).sum())
        n = len(s.y)
        change = (gained - lost) / n
        allowed = allowed_change(settings, lost + gained, n)
        verdict = "worse" if change < -allowed else "better" if change > allowed else "same"
        per_class_old, per_class_new = old_results[s.name]["per_class_accuracy"], new_results[s.name]["per_class_accuracy"]
        moved = sorted(labels, key=lambda c: -abs(per_class_new[c] - per_class_old[c]))[:3]
        rows[s.name] = {
            "n": n,
            "old_accuracy": old_results[s.name]["accuracy"],
            "new_accuracy": new_results[s.name]["accuracy"],
            "change": round(change, 5),
            "allowed_drop": round(float(allowed), 5),
            "old_right_new_wrong": lost,
            "old_wrong_new_right": gained,
            "verdict": verdict,
            "classes_that_moved_most": {c: [per_class_old[c], per_class_new[c]] for c in moved},
        }
        if old_policy != RefusalPolicy.never() or new_policy != RefusalPolicy.never():
            r_old, r_new = refused_mask(full_old, old_policy), refused_mask(full_new, new_policy)
            more, fewer = int((r_new & ~r_old).sum()), int((r_old & ~r_new).sum())
            allowed_more = allowed_change(settings, more + fewer, n)
            refused_change = (more - fewer) / n
            rows[s.name].update({
                "old_refused": round(float(r_old.mean()), 5), "new_refused": round(float(r_new.mean()), 5),
                # what the app records as right ("?" is wrong): where a retrain that stops refusing a style shows
                "old_answered_right": round(float((old_right & ~r_old).mean()), 5),
                "new_answered_right": round(float((new_right & ~r_new).mean()), 5),
                "refused_change": round(refused_change, 5), "allowed_refusal_rise": round(float(allowed_more), 5),
                "refusal_verdict": "worse" if refused_change > allowed_more else "same"})
            new_results[s.name]["refused"] = rows[s.name]["new_refused"]
    return old_results, new_results, rows


GATE_DOODLES, GATE_DOODLE_SEED = 2000, 31  # fresh drawings of the training families, never trained on


def none_doodle_families(folder: Path) -> str:
    """The doodle families a model's none unit learnt from, as its training.json records them
    (training.refusal_head): "train", or "train+" with the everyday objects."""
    return (read_training(folder).get("none_unit") or {}).get("doodles_from", "train")


def gate_negatives(task: str, emnist_cache=None, doodles_from: str = "train") -> dict[str, np.ndarray]:
    """What a "?" model must keep refusing, as float32 model inputs: fresh drawings of the training doodle
    families (another seed than any training draw; the held-out families stay evaluation only) and, for
    digits, EMNIST validation letters that look like no digit. `doodles_from`: the families the base model's
    none unit learnt from ("train", or "train+" with the everyday objects)."""
    from training.none_data import doodles, negative_letter_mask

    x, _ = doodles(doodles_from, GATE_DOODLES, GATE_DOODLE_SEED)
    sets = {"doodles (training families, fresh)": x.astype(np.float32) / 255.0}
    if task == "digits":
        from training.emnist_cache import load

        try:
            data = load(emnist_cache)
        except FileNotFoundError:
            return sets
        keep = negative_letter_mask(data) & data["validation"]
        sets["EMNIST validation letters that look like no digit"] = data["x"][keep].astype(np.float32) / 255.0
    return sets


def compare_negatives(old_runtime, new_runtime, negatives: dict[str, np.ndarray], old_policy, new_policy,
                      settings: RetrainSettings) -> dict[str, dict]:
    """How many of each negative set old and new answer "?"; a candidate that refuses fewer is worse (a
    retrain moves the features under the none unit, and nothing else would notice "?" fading)."""
    from handwriting.refusal import refused_mask
    from training.evaluate import predict_all

    rows = {}
    for name, x in negatives.items():
        r_old = refused_mask(predict_all(old_runtime, x), old_policy)
        r_new = refused_mask(predict_all(new_runtime, x), new_policy)
        fewer, more = int((r_old & ~r_new).sum()), int((r_new & ~r_old).sum())
        allowed = allowed_change(settings, fewer + more, len(x))
        change = (more - fewer) / len(x)
        rows[name] = {"n": len(x), "old_refused": round(float(r_old.mean()), 5), "new_refused": round(float(r_new.mean()), 5),
                      "change": round(change, 5), "allowed_drop": round(float(allowed), 5),
                      "verdict": "worse" if change < -allowed else "better" if change > allowed else "same"}
    return rows


def gate(rows: dict[str, dict], negative_rows: dict[str, dict] | None = None) -> tuple[bool, list[str]]:
    """Promote only when no set got worse beyond what it allows; the reasons say why, either way."""
    if not rows:
        return False, ["there is no evaluation set to compare on"]
    worse = [f"{name}: {r['old_accuracy']:.2%} -> {r['new_accuracy']:.2%} (a drop of {-r['change']:.2%}, "
             f"{r['allowed_drop']:.2%} allowed)" for name, r in rows.items() if r["verdict"] == "worse"]
    worse += [f"{name}: refuses {r['old_refused']:.2%} -> {r['new_refused']:.2%} of its real characters as \"?\" "
              f"(a rise of {r['refused_change']:.2%}, {r['allowed_refusal_rise']:.2%} allowed)"
              for name, r in rows.items() if r.get("refusal_verdict") == "worse"]
    worse += [f"{name}: answers \"?\" for {r['old_refused']:.2%} -> {r['new_refused']:.2%} of them (a drop of "
              f"{-r['change']:.2%}, {r['allowed_drop']:.2%} allowed)"
              for name, r in (negative_rows or {}).items() if r["verdict"] == "worse"]
    if worse:
        return False, ["worse on " + w for w in worse]
    better = [name for name, r in {**rows, **(negative_rows or {})}.items() if r["verdict"] == "better"]
    return True, [f"no set got worse beyond its tolerance ({len(rows)} compared)"] + (
        [f"better on {', '.join(better)}"] if better else [])


def next_version(version: str) -> str:
    """1.0.0 -> 1.0.1: a retrained model is a patch release of the same design."""
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return "1.0.0"


# ---------------------------------------------------------------------------------------------------
# Writing it down


def save_candidate_model(folder: Path, model, task: str, policy=None) -> None:
    """The new weights, their LiteRT copy for serving (checked against them), the refusal policy (the base's
    thresholds, or those of a "?" head trained again; either way the gate checks the
    candidate refuses no more real characters), both verified."""
    from handwriting.refusal import RefusalPolicy
    from training.export import export_litert

    if folder.exists():
        shutil.rmtree(folder)  # never mix files of an earlier run into this one
    folder.mkdir(parents=True)
    model.save(folder / KERAS_FILE)
    export_litert(folder)
    if policy is not None and policy != RefusalPolicy.never():
        policy.save(folder)
    verify_model_folder(task, folder, KerasRuntime(folder / KERAS_FILE))
    verify_model_folder(task, folder)


def write_candidate_metadata(folder: Path, base, results: dict, version: str, retrain_record: dict,
                             none_unit: dict | None = None) -> dict:
    """training.json (the base's, plus this run; `none_unit`: the record of a "?" head trained again), metrics.json,
    confusion matrices and the model card."""
    from training.evaluate import write_metrics

    training = read_training(base.folder)
    training["retrained"] = retrain_record
    if none_unit:
        training["none_unit"] = {**none_unit, "outputs": training.get("none_unit", {}).get("outputs"),
                                 "trained_by": retrain_record.get("command") or "python -m training.retrain --learn new-head"}
    write_training(folder, training)
    return write_metrics(folder, base.task.name, results, version, retrain_record["evaluation_seconds"])


def report_markdown(report: dict) -> str:
    rows = "\n".join(
        f"| {name} | {r['n']} | {r['old_accuracy']:.2%} | {r['new_accuracy']:.2%} | {r['change']:+.2%} | "
        f"{r['allowed_drop']:.2%} | {r['verdict']} |" for name, r in report["comparison"].items())
    skipped = "".join(f"\n- {name}: {why}" for name, why in report["skipped_sets"].items())
    c, s = report["training_set"], report["settings"]
    control = " **Labels shuffled: a negative control.**" if c["labels_shuffled"] else ""
    weighting = (f", weighted by class count^-{c.get('class_weight_power', 1):g} (the base model's prior correction)"
                 if c.get("class_balanced") else "")
    return f"""## Retraining from feedback: {report['decision']}

- Base: version {report['base']['version']} ({report['base']['source']}); candidate: version {report['candidate']['version']}.
- Feedback: {report['feedback']['records']} records in `{Path(report['feedback']['file']).name}`, {report['feedback']['held_out']} of them held out for the comparison.
- Each epoch: {c['base_images']:,} base images ({c.get('base_data') or 'base data'}) + {c['feedback_records']} feedback records ({c['corrections']} corrections x {c['correction_repeats']}, {c['confirmations']} confirmations x {c['confirmation_repeats']}) = {c['images_per_epoch']:,} images, each as a generated rotated, zoomed and shifted variant{weighting}.{control}{_none_feedback_line(c, report['settings'])}
- Fine-tuning: {s['epochs']} epochs, batch {s['batch_size']}, Adam {s['learning_rate']:g} decaying x{s['lr_decay_per_epoch']:g} an epoch; {report['seconds']['total']:.0f} s in all, {report['seconds']['training']:.0f} s of it training.{_new_head_line(c)}
- Gate: on every set the new accuracy may be at most max({s['tolerance']:.2%}, {s['noise_z']:g} standard errors of the paired difference) below the old one.

| set | images | old | new | change | allowed drop | verdict |
|---|---:|---:|---:|---:|---:|---|
{rows}

{_refusal_rows(report)}**{'Promoted' if report['promoted'] else 'Refused'}**: {'; '.join(report['reasons'])}.{_still_refused_hint(report)}{chr(10) + chr(10) + 'Not compared:' + skipped if skipped else ''}

Reproduce: `{report['command']}`
"""


STILL_REFUSED_HINT = 0.05  # share of the held-out feedback still answered "?" that is worth a word in the report


def _still_refused_hint(report: dict) -> str:
    """Where the candidate still answers "?" for real feedback and its "?" head did not learn: what would."""
    row = report["comparison"].get(FEEDBACK_SET, {})
    if report["settings"].get("learn") == "new-head" or row.get("new_refused", 0) < STILL_REFUSED_HINT:
        return ""
    return (f"\n\nThe candidate still answers \"?\" for {row['new_refused']:.0%} of the held-out feedback, which people "
            "said were characters: only the \"?\" head can learn that (`--learn new-head` trains it again with the feedback).")


def _none_feedback_line(composition: dict, settings: dict) -> str:
    """Records people said are none of the characters ("?"): learnt by the none unit, or left out."""
    used, left_out = composition.get("not_a_character", 0), composition.get("not_a_character_left_out", 0)
    if left_out:
        return (f"\n- {left_out} records said to be no character were left out: this model has no \"?\" unit to "
                "learn them.")
    if not used:
        return ""
    learns = ("the \"?\" head trained again learns them as none" if settings.get("learn") == "new-head"
              else "they are shown as none; only `--learn new-head` teaches the \"?\" head itself")
    return f"\n- {used} of the feedback records were said to be no character: {learns}."


def _new_head_line(composition: dict) -> str:
    """learn="new-head": what the "?" head was trained again on, and how."""
    head = composition.get("new_head")
    if not head:
        return ""
    return (f"\n- The \"?\" head trained again ({head['training_seconds']:.0f} s): {head['head']}; on {head['data']}.")


def _refusal_rows(report: dict) -> str:
    """For "?" models: how many real characters of each set old and new refuse (the gate allows no rise)."""
    rows = [f"| {name} | {r['old_refused']:.2%} | {r['new_refused']:.2%} | {r['allowed_refusal_rise']:.2%} | "
            f"{r['refusal_verdict']} | {r['old_answered_right']:.2%} | {r['new_answered_right']:.2%} |"
            for name, r in report["comparison"].items() if "old_refused" in r]
    if not rows:
        return ""
    thresholds = ("its \"?\" head trained again, the candidate's thresholds are calibrated as the base's were, on the "
                  "head's validation split" if report["settings"].get("learn") == "new-head"
                  else "the candidate keeps the base's refusal.json")
    text = (f"Real characters answered \"?\" ({thresholds}; more refusals fail the gate), and answered right as the "
            "app records it (the right character, not \"?\"):\n\n"
            "| set | old refused | new refused | allowed rise | verdict | old answered right | new answered right |\n"
            "|---|---:|---:|---:|---|---:|---:|\n" + "\n".join(rows) + "\n\n")
    negatives = [f"| {name} | {r['n']} | {r['old_refused']:.2%} | {r['new_refused']:.2%} | {r['allowed_drop']:.2%} | "
                 f"{r['verdict']} |" for name, r in (report.get("negatives") or {}).items()]
    if negatives:
        text += ("What must stay \"?\" (fewer refusals fail the gate):\n\n| set | images | old refused | new refused | "
                 "allowed drop | verdict |\n|---|---:|---:|---:|---:|---|\n" + "\n".join(negatives) + "\n\n")
    return text


def write_report(out: Path, report: dict) -> None:
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.md").write_text(report_markdown(report))


def promote(candidate: Path, destination: Path) -> None:
    """Replace `destination` with the candidate folder (an atomic rename where the disk allows)."""
    staging = destination.with_name(destination.name + ".promoting")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(candidate, staging)
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)


# ---------------------------------------------------------------------------------------------------


def retrain(task: str, feedback_path: Path, data_dir, out: Path, settings: RetrainSettings, base_model: Path | None = None,
            promote_to: Path | None = None, publish_repo: str | None = None, command: str = "", emnist_cache=None,
            synthetic_cache=None) -> dict:
    started = time.time()
    labels = labels_for(task)
    base = (read_model_folder(task, base_model, source=f"{base_model}", weights=KERAS_FILE) if base_model
            else resolve_model(task))
    print(f"base model: {base.describe()}")
    from handwriting.refusal import RefusalPolicy

    policy = RefusalPolicy.load(base.folder)
    feedback, none_left_out = without_none_feedback(load_feedback(feedback_path, task), policy)
    holdout = held_out(feedback.ids, settings.holdout_fraction)
    base_x, base_y, base_description = base_training_data(task, data_dir, emnist_cache)  # what the model learnt from
    synthetic_cache = synthetic_cache_for(task, base.folder, synthetic_cache)
    if synthetic_cache:
        base_x, base_y, base_description = with_synthetic(task, base_x, base_y, base_description, synthetic_cache)
    doodles_from = none_doodle_families(base.folder)
    if policy.none_unit:  # a "?" model keeps seeing what it learnt "none" from (and the digits model EMNIST's digits)
        from training.none_data import none_unit_base_data

        extra_x, extra_y, extra = none_unit_base_data(task, emnist_cache, doodles_from=doodles_from)
        base_x, base_y = np.concatenate([base_x, extra_x]), np.concatenate([base_y, extra_y])
        base_description += f" + {extra}"
    x, y, composition = build_training_set(base_x, base_y, feedback, ~holdout, settings)
    composition["base_data"] = base_description
    composition["not_a_character_left_out"] = none_left_out
    power = balance_power(settings, task, base.folder)
    balanced = power > 0
    composition["class_balanced"] = balanced
    composition["class_weight_power"] = power
    sets, skipped = evaluation_sets(task, data_dir, feedback, holdout, emnist_cache)
    print(f"training on {composition['images_per_epoch']:,} images an epoch; comparing on "
          f"{', '.join(f'{s.name} ({len(s.y)})' for s in sets)}")

    trained_at = time.time()
    model = fine_tune(base.weights, x, y, settings,
                      class_weights(y, policy.output_units(labels), power) if balanced else None,
                      character_layers_only=len(labels) if policy.none_unit and settings.learn != "all" else None)
    candidate_policy, head_record = policy, None
    if policy.none_unit and settings.learn == "new-head":
        from training.new_head import new_head

        x_fb, y_fb = x[composition["base_images"]:], y[composition["base_images"]:]  # the feedback, as repeated above
        model, candidate_policy, head_record = new_head(
            model, base.folder, task, policy, x_fb, y_fb,
            f"feedback images ({composition['feedback_records']:,} records, corrections x{settings.correction_repeats})",
            out / "new_head", emnist_cache, settings.seed)
        composition["new_head"] = {k: head_record[k] for k in ("data", "head", "training_seconds")}
    training_seconds = time.time() - trained_at
    candidate = out / "candidate"
    save_candidate_model(candidate, model, task, candidate_policy)
    evaluated_at = time.time()  # both as they would serve: LiteRT where its copy is current, else Keras
    old_runtime, new_runtime, new_policy = load_any(base.folder), load_any(candidate), RefusalPolicy.load(candidate)
    old_results, new_results, rows = compare(old_runtime, new_runtime, sets, labels, settings, policy, new_policy)
    negative_rows = {}
    if policy.none_unit:
        negatives = {**gate_negatives(task, emnist_cache, doodles_from), **none_held_out(feedback, holdout)}
        negative_rows = compare_negatives(old_runtime, new_runtime, negatives, policy,
                                          new_policy, settings)
    promoted, reasons = gate(rows, negative_rows)
    version = next_version(base.version)
    report = {
        "task": task,
        "decision": "promoted" if promoted else "refused",
        "promoted": promoted,
        "reasons": reasons,
        "base": {"version": base.version, "source": base.source, "folder": str(base.folder), "commit": base.commit},
        "candidate": {"version": version, "folder": str(candidate)},
        "feedback": {"file": str(feedback_path), "records": len(feedback.y), "held_out": int(holdout.sum())},
        "training_set": composition,
        "settings": asdict(settings),
        "comparison": rows,
        "negatives": negative_rows,
        "skipped_sets": skipped,
        "seconds": {"training": round(training_seconds, 1), "evaluation": round(time.time() - evaluated_at, 1)},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "promoted_to": None,
        "published": None,
    }
    retrain_record = {key: report[key] for key in ("base", "feedback", "training_set", "settings", "finished_at", "command")}
    retrain_record.update(training_seconds=report["seconds"]["training"], evaluation_seconds=report["seconds"]["evaluation"])
    write_candidate_metadata(candidate, base, new_results, version, retrain_record, head_record)
    report["seconds"]["total"] = round(time.time() - started, 1)
    (candidate / RETRAIN_REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    with open(candidate / CARD_FILE, "a") as card:  # the card tells how this version came to be
        card.write("\n" + report_markdown(report))

    if promoted and promote_to:
        promote(candidate, promote_to)
        report["promoted_to"] = str(promote_to)
    if promoted and publish_repo:
        from training.publish import publish

        report["published"] = publish(candidate, publish_repo, task)
    report["seconds"]["total"] = round(time.time() - started, 1)
    write_report(out, report)
    return report


def main(argv=None):
    defaults = RetrainSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="digits", choices=["digits", "letters", "all"])
    parser.add_argument("--feedback", required=True, help="the feedback training file (.npz) exported from the app")
    parser.add_argument("--data-dir", default=None, help="folder with mnist.npz (training and test) and, for evaluation "
                        "only, usps_train_16x16.npz and hw62_dev/ (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--emnist-cache", default=None, help="letters/all: the preprocessed EMNIST cache (default: "
                        "$HANDWRITING_EMNIST_CACHE or data/emnist/preprocessed.npz, built from --data-dir when missing)")
    parser.add_argument("--synthetic-cache", default=None, help="letters/all: the synthetic font renders to keep "
                        "showing the model (default: the cache its training record names, rendered when missing)")
    parser.add_argument("--out", default=None, help="where the report and candidate go (default: runs/retrain/<task>-<time>)")
    parser.add_argument("--base-model", default=None, help="model folder to start from (default: the one the app serves)")
    parser.add_argument("--promote-to", default=None, help="when the gate passes, copy the new model folder here "
                        "(e.g. models/digits to update the bundled model)")
    parser.add_argument("--publish", default=None, metavar="REPO", help="when the gate passes, publish it to this hub repo")
    for name, value in asdict(defaults).items():
        if isinstance(value, bool):
            parser.add_argument(f"--{name.replace('_', '-')}", action="store_true", help=f"see RetrainSettings ({value})")
        else:
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value, help=f"default {value}",
                                choices=SETTING_CHOICES.get(name))
    args = parser.parse_args(argv)
    quiet_third_parties()
    settings = RetrainSettings(**{name: getattr(args, name) for name in asdict(defaults)})
    out = Path(args.out) if args.out else RETRAIN_RUNS / f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = "python -m training.retrain " + " ".join(argv if argv is not None else sys.argv[1:])
    report = retrain(args.task, Path(args.feedback), args.data_dir, out, settings,
                     Path(args.base_model) if args.base_model else None,
                     Path(args.promote_to) if args.promote_to else None, args.publish, command, args.emnist_cache,
                     args.synthetic_cache)
    for name, r in report["comparison"].items():
        answered = (f"; answered right {r['old_answered_right']:.2%} -> {r['new_answered_right']:.2%}"
                    if "old_answered_right" in r else "")
        print(f"{name:>16}: {r['old_accuracy']:.4%} -> {r['new_accuracy']:.4%} ({r['verdict']}){answered}")
    print(f"{report['decision'].upper()}: {'; '.join(report['reasons'])}")
    print(f"report: {out / 'report.md'}; candidate: {out / 'candidate'}"
          + (f"; promoted to {report['promoted_to']}" if report["promoted_to"] else "")
          + (f"; published {report['published']['tag']}" if report["published"] else ""))
    return report


if __name__ == "__main__":
    main()
