"""The extra digits ensemble member's data (training.train_digit_member): digits only, never a validation
image, and a share re-made as photos and pad drawings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.train_digit_member import member_data

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "emnist_preprocessed_310.npz"


def test_member_data_is_digits_from_the_training_part_plus_restyled_copies():
    with np.load(FIXTURE) as d:
        digits = d["y"] < 10
        train_digits = {img.tobytes() for img in d["x"][digits & ~d["validation"]]}
        val_digits = {img.tobytes() for img in d["x"][digits & d["validation"]]}
    x, y, xv, yv, description = member_data(cache=FIXTURE, seed=0, restyled_share=0.5)
    assert y.max() < 10 and yv.max() < 10
    as_bytes = [img.tobytes() for img in x]
    originals = [b for b in as_bytes if b in train_digits]
    assert len(originals) == len(train_digits)  # every training-part digit once as it is
    assert not set(as_bytes) & val_digits  # no validation digit, as it is or re-made
    assert {img.tobytes() for img in xv} == val_digits
    copies = len(x) - len(originals)
    assert copies >= 0.8 * (len(train_digits) // 2)  # re-made ones (a few too faint to photograph may drop)
    assert "re-made" in description


def test_a_member_with_its_own_recipe_is_named_and_reproduced_in_the_ensembles_card():
    from training.ensemble import ensemble_record
    from training.model_card import _ensemble_text, _reproduce

    def member(seed, data, command=None, learning_rate=0.001):
        record = {"folder": f"runs/m{seed}", "task": "digits", "data": data, "best_epoch": 5, "best_val_accuracy": 0.99,
                  "training_seconds": 10.0, "train_size": 100,
                  "settings": {"epochs": 5, "seed": seed, "learning_rate": learning_rate},
                  "results": {"mnist_test": 0.99}}
        return {**record, "command": command} if command else record

    own = "python -m training.train_digit_member --out runs/digit_member_emnist --epochs 12 --seed 3"
    record = ensemble_record([member(0, "MNIST"), member(3, "MNIST + EMNIST digits", own, learning_rate=0.0005)])
    assert record["data"] == "member 0: MNIST; member 1: MNIST + EMNIST digits"
    assert record["settings"] == {"epochs": "5/5", "seed": "0/3", "learning_rate": "0.001/0.0005"}  # each that differs
    metrics = {"task": "digits", "version": "9.9.9", "results": {"mnist_test": {"accuracy": 0.995}}}
    text = _ensemble_text(metrics, record)
    assert "one original CNN (member 0" in text and "from other hands (`training.train_digit_member`) (member 1" in text
    reproduce = _reproduce(metrics, record)
    assert "python -m training.train digits --epochs 5 --seed 0 --out-dir runs/digits_s0" in reproduce
    assert own in reproduce
    assert "python -m training.ensemble digits runs/digits_s0 runs/digit_member_emnist --out models/digits" in reproduce
    same = ensemble_record([member(0, "MNIST"), member(1, "MNIST")])
    assert same["data"] == "MNIST"  # one data line when every member learnt from the same
    assert same["settings"]["learning_rate"] == 0.001


def test_the_card_of_an_average_of_character_networks_reproduces_each_network_into_its_own_folder():
    from training.ensemble import ensemble_record
    from training.model_card import _reproduce

    def network(seed, run, folder, ambiguous):
        settings = {"epochs": 8, "learning_rate": 0.001, "lr_decay_per_epoch": 0.8, "ambiguous": ambiguous, "width": 1.0,
                    "seed": seed, "synthetic": "synthetic_pc2000_s0.npz"}
        return {"folder": folder, "kind": "emnist", "task": "letters", "data": "EMNIST", "settings": settings,
                "training_run": run, "prior_power": 1.0, "best_epoch": 7, "best_val_accuracy": 0.85,
                "training_seconds": 600.0, "train_size": 100}

    record = ensemble_record([network(0, "runs/emnist/joint", "runs/base_letters", "either"),
                              network(1, "runs/emnist/drop_s1", "runs/base_letters_s1", "drop")])
    record["none_unit"] = {"head": "none_head.keras", "out": "runs/head_all_ens", "rich_features": True}
    metrics = {"task": "letters", "version": "2.2.0", "refusal": {"policy": {"method": "confidence"}}}
    text = _reproduce(metrics, record)
    lines = text.splitlines()
    for seed, run, folder, ambiguous in ((0, "runs/emnist/joint", "runs/base_letters", "either"),
                                         (1, "runs/emnist/drop_s1", "runs/base_letters_s1", "drop")):
        train = next(i for i, line in enumerate(lines) if line.startswith(f"python -m training.train_emnist train --out {run} "))
        assert f"--ambiguous {ambiguous}" in lines[train] and f"--seed {seed}" in lines[train]
        assert lines[train + 1] == (f"python -m training.train_emnist assemble {run} --task letters --prior-power 1 "
                                    f"--out {folder}")
    assert ("python -m training.ensemble letters runs/base_letters runs/base_letters_s1 --out models/letters "
            "--data-dir ../shared/datasets") in lines
    written = [line.split("--out ")[1].split()[0] for line in lines if "--out " in line]
    assert written.count("runs/base_letters") == 1  # no later step writes over a member's folder
    assert lines[-2].startswith("python -m training.evaluate letters") and "--version 2.2.0" in lines[-2]
