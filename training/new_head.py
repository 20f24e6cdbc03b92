"""A retrain's "?" head trained again (`training.retrain --learn new-head`): the recipe the served head was made
with, plus the feedback as characters (and the pictures people said are none of them as "none"), then its
thresholds calibrated as the shipped ones were.

Re-fitting the served head on a few hundred corrections moved all its answers: it is nearly sure on most
pictures, and a re-fit asked to keep them barely holds them there (measured: docs/retraining.md). A head
trained again sees what the first one learnt from (the task's characters, the doodle families, for digits the
letters that look like no digit, in every look it saw them) and the corrections among them, so a style people
write can stop being "?" without the rest of its answers drifting. It costs what the first one did (minutes, not seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE, read_training
from handwriting.tasks import labels_for
from training.emnist import positions_in_all


def head_recipe(folder: Path) -> dict:
    """The keyword arguments of `training.refusal_head.train` that made `folder`'s "?" head, from its
    training.json ("none_unit"); a model folder whose record lacks it cannot have its head made again."""
    from training.refusal_head import train_arguments

    record = read_training(folder).get("none_unit")
    if not record or "task" not in record:
        raise ValueError(f"{folder}: its training.json does not say how its \"?\" head was trained")
    return train_arguments(record)


def in_all_labels(y: np.ndarray, task: str) -> np.ndarray:
    """Labels of `task` as indices among all 62 characters (the order `training.refusal_head` learns in);
    len(labels), none of them ("?" feedback), as -1: the head's "none"."""
    return np.append(positions_in_all(task), -1)[y]


def calibrated_like(policy, probs: np.ndarray, real: np.ndarray):
    """`policy`'s rule calibrated afresh on a validation split (`probs`, `real` marks the task's characters):
    the same method, the same budgets of real characters refused, alone and in a line."""
    from training.evaluate_refusal import LINE_BUDGET, REAL_REFUSAL_BUDGET, calibrate, with_line_thresholds

    budget = policy.details.get("calibration", {}).get("real_refusal_budget", REAL_REFUSAL_BUDGET)
    line_budget = policy.details.get("in_a_line", {}).get("real_refusal_budget", LINE_BUDGET)
    fresh = calibrate(probs, real, policy.details.get("method", "confidence"), policy.none_unit, budget)
    return with_line_thresholds(fresh, probs, real, line_budget)


def new_head(model, base_folder: Path, task: str, policy, feedback_x: np.ndarray, feedback_y: np.ndarray,
             description: str, work: Path, emnist_cache=None, seed: int | None = None):
    """(the model with a newly trained "?" head, its calibrated policy, the head's record): `model` (a served
    "?" model, e.g. after its character layers learnt) keeps its networks; the head is trained by `base_folder`'s
    recipe with (`feedback_x`, `feedback_y`: uint8 images, labels of `task`, len(labels) for "none of them") as
    characters (or none) too, and `seed` instead of the recipe's if given."""
    import json

    from training.refusal_head import assembled, train, validation_for
    from training.served_network import write_networks

    fine_tuned, networks, head = work / "fine_tuned", work / "networks", work / "head"
    fine_tuned.mkdir(parents=True, exist_ok=True)
    model.save(fine_tuned / KERAS_FILE)
    write_networks(fine_tuned, networks)
    recipe = head_recipe(base_folder) | ({} if seed is None else {"seed": seed})
    train(networks, head, cache=emnist_cache, extra=(feedback_x, in_all_labels(feedback_y, task), description), **recipe)
    with_head = assembled(networks, head)
    x, y = validation_for(task, head)
    probs = with_head.predict(x[..., None], batch_size=512, verbose=0)
    fresh = calibrated_like(policy, probs, y < len(labels_for(task)))
    return with_head, fresh, json.loads((head / "head_record.json").read_text())
