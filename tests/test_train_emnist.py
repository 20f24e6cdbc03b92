"""The EMNIST training pieces on tiny data: the preprocessed cache, the either-case loss, and the derived
letters / prior-corrected models (which must be exactly the 62-class network's conditioned probabilities)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handwriting.tasks import labels_for
from training import emnist_cache, train_emnist

ALL = labels_for("all")


@pytest.fixture(scope="module")
def fake_data_dir(tmp_path_factory, mnist_samples):
    """The three files in the shared data folder's layout, from 200 MNIST digits standing in for everything."""
    folder = tmp_path_factory.mktemp("data")
    x, y = mnist_samples
    byclass_chars = np.array(ALL)
    np.savez(folder / "emnist_byclass.npz", x=x[:120], y=(np.arange(120) % 62).astype(np.int16),
             y_char=byclass_chars[np.arange(120) % 62], classes=byclass_chars, src_index=np.arange(120))
    merged = ["O", "a", "3", "S"] * 10
    np.savez(folder / "emnist_bymerge_extra.npz", x=x[120:160], y=np.zeros(40, np.int16), y_char=np.array(merged),
             classes=np.array(["0"]), case_ambiguous=np.array([c in "OS" for c in merged]), src_index=np.arange(40))
    np.savez(folder / "mnist.npz", x_train=x[160:], y_train=y[160:], x_test=x[:10], y_test=y[:10])
    return folder


def test_cache_holds_every_image_as_serving_preprocesses_it(fake_data_dir, tmp_path, mnist_samples):
    from handwriting.preprocessing import to_model_input

    out = emnist_cache.build(fake_data_dir, tmp_path / "cache.npz", workers=1)
    d = emnist_cache.load(out)
    assert len(d["y"]) == 200 and d["x"].dtype == np.uint8
    x, _ = mnist_samples
    np.testing.assert_allclose(d["x"][5] / 255.0, to_model_input(x[5]), atol=0.5 / 255 + 1e-6)
    amb = d["case_ambiguous"]
    assert amb.sum() == 20 and set(ALL[v] for v in d["y"][amb]) == {"O", "S"}
    assert set(ALL[v] for v in d["y_alt"][amb]) == {"o", "s"}
    assert (d["y_alt"][~amb] == d["y"][~amb]).all()
    assert not d["validation"][d["source"] == 2].any()  # MNIST is training data only
    assert list(d["source"]) == [0] * 120 + [1] * 40 + [2] * 40
    again = emnist_cache.load(emnist_cache.build(fake_data_dir, tmp_path / "again.npz", workers=2))
    np.testing.assert_array_equal(again["validation"], d["validation"])  # seeded
    np.testing.assert_array_equal(again["x"], d["x"])


def test_either_case_loss_accepts_both_cases_and_only_them():
    from keras import ops

    probs = np.full((3, 62), 0.1 / 59, np.float32)
    o, O = ALL.index("o"), ALL.index("O")
    probs[:, o], probs[:, O], probs[:, 0] = 0.45, 0.45, 0.0
    y = np.array([[O, o], [O, O], [0, 0]], np.int32)
    loss = ops.convert_to_numpy(train_emnist.either_case_loss(y, probs))
    assert loss[0] == pytest.approx(-np.log(0.9), rel=1e-5)
    assert loss[1] == pytest.approx(-np.log(0.45), rel=1e-5)
    assert loss[2] > 10  # probability 0: clipped, not infinite
    acc = ops.convert_to_numpy(train_emnist.either_case_accuracy(y, probs))
    assert list(acc) == [1.0, 1.0 if probs[1].argmax() == O else 0.0, 0.0]


def test_training_prior_splits_case_merged_images_by_byclass_ratio():
    y = np.array([ALL.index(c) for c in "OOOo" + "O" * 8])
    data = {"y": y, "y_alt": np.where(np.arange(12) >= 4, ALL.index("o"), y),
            "case_ambiguous": np.arange(12) >= 4, "source": np.where(np.arange(12) >= 4, 1, 0)}
    prior = train_emnist.training_prior(data, np.ones(12, bool))
    assert prior[ALL.index("O")] == pytest.approx((3 + 6) / 12)
    assert prior[ALL.index("o")] == pytest.approx((1 + 2) / 12)


def test_assembled_letters_model_is_the_62_class_posterior_conditioned_on_a_letter():
    import keras

    keras.utils.set_random_seed(0)
    network = train_emnist.build_network()
    prior = np.random.default_rng(0).dirichlet(np.ones(62))
    x = np.random.default_rng(1).random((8, 28, 28, 1)).astype(np.float32)
    p62 = network.predict(x, verbose=0).astype(np.float64)
    for task, power in (("all", 0.0), ("all", 1.0), ("letters", 1.0), ("letters", 0.5)):
        model = train_emnist.assembled(network, task, prior, power)
        expected = p62 / prior[None, :] ** power
        if task == "letters":
            expected = expected[:, 10:]
        expected /= expected.sum(1, keepdims=True)
        got = model.predict(x, verbose=0)
        assert got.shape == (8, len(labels_for(task)))
        np.testing.assert_allclose(got, expected, atol=2e-5)
        assert model.count_params() <= network.count_params()


def test_assembled_model_folder_serves_through_litert(tmp_path):
    import keras

    from handwriting.models import verify_model_folder

    keras.utils.set_random_seed(0)
    run = tmp_path / "run"
    run.mkdir()
    train_emnist.build_network().save(run / "network.keras")
    record = {"prior": list(np.full(62, 1 / 62)), "data": "test", "settings": {"epochs": 1}, "train_size": 1, "sources": {},
              "case_merged_images": 0, "best_epoch": 1, "best_val_accuracy": 0.5, "val_accuracy_history": [0.5],
              "training_seconds": 1, "trained_at": "now", "tensorflow": "x", "keras": "x"}
    (run / "train_record.json").write_text(json.dumps(record))
    out = train_emnist.assemble(run, "letters", tmp_path / "letters", prior_power=1.0)
    verify_model_folder("letters", out)
    assert json.loads((out / "training.json").read_text())["kind"] == "emnist"


def test_lookalike_gaps_measure_how_close_the_two_cases_are():
    from training.compare_recipes import lookalike_gaps

    labels = labels_for("letters")
    o, O, a = labels.index("o"), labels.index("O"), labels.index("a")
    probs = np.full((2, 52), 0.0, np.float32)
    probs[0, [o, O, a]] = 0.5, 0.4, 0.1  # both cases on top, 0.1 apart
    probs[1, [o, a, O]] = 0.9, 0.08, 0.02  # one confident case, the other third
    r = lookalike_gaps(probs, np.array([o, O]), labels)
    assert r["n"] == 2 and r["mean_gap"] == pytest.approx((0.1 + 0.88) / 2, abs=1e-6)
    assert r["both_in_top3"] == 1.0 and r["groups"]["O/o"]["top1_in_group"] == 1.0


def test_warm_start_from_a_shipped_model_undoes_its_prior_correction(tmp_path):
    """Training goes on from plain logits: the shipped 'all' model's correction (minus power x log prior) is
    added back, so the warm-started network gives the trained network's own probabilities."""
    import keras

    keras.utils.set_random_seed(0)
    network = train_emnist.build_network()
    prior = np.random.default_rng(0).dirichlet(np.ones(62))
    folder = tmp_path / "all"
    folder.mkdir()
    train_emnist.assembled(network, "all", prior, 0.5).save(folder / "model.keras")
    (folder / "training.json").write_text(json.dumps({"prior_power": 0.5}))
    warm = train_emnist.build_network()
    warm.set_weights(train_emnist.warm_start_weights(folder / "model.keras", prior))
    x = np.random.default_rng(1).random((6, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(warm.predict(x, verbose=0), network.predict(x, verbose=0), atol=2e-5)
    with pytest.raises(ValueError, match="outputs"):
        letters = tmp_path / "letters"
        letters.mkdir()
        train_emnist.assembled(network, "letters", prior, 1.0).save(letters / "model.keras")
        (letters / "training.json").write_text(json.dumps({"prior_power": 1.0}))
        train_emnist.warm_start_weights(letters / "model.keras", prior)


def test_restyled_mix_comes_from_the_pool_with_their_own_labels():
    from training.photo_renders import restyled_mix

    rng = np.random.default_rng(0)
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40)
    for i in range(40):  # vertical bars of different widths
        images[i, 4:24, 10:12 + i % 6] = 255
    pool = np.arange(0, 40, 2)
    x, y = restyled_mix(images, labels, pool, 16, rng, seed=1)
    assert len(y) == 16 and x.shape == (16, 28, 28) and x.dtype == np.uint8
    assert set(y) <= set(pool)  # only images from the pool, each with its own label
    assert all(x[i].max() > 100 for i in range(16))  # every copy still shows its stroke


def test_training_goes_on_from_a_shipped_model_with_restyled_copies(tmp_path):
    """`train --init models/all/model.keras --restyled-share`: the photographed and pad-drawn copies join the
    training data and the record, and the network the run saves serves as a plain 62-class softmax."""
    import keras

    fixture = Path(__file__).resolve().parent / "fixtures" / "emnist_preprocessed_310.npz"
    keras.utils.set_random_seed(0)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    prior = np.full(62, 1 / 62)
    train_emnist.assembled(train_emnist.build_network(), "all", prior, 0.5).save(shipped / "model.keras")
    (shipped / "training.json").write_text(json.dumps({"prior_power": 0.5}))
    out = train_emnist.train(fixture, tmp_path / "run", epochs=1, batch_size=32, init=shipped / "model.keras",
                             restyled_share=0.5)
    record = json.loads((out / "train_record.json").read_text())
    with np.load(fixture) as d:
        training_part = int((~d["validation"]).sum())
    assert record["sources"]["restyled"] >= 0.8 * (training_part // 2)  # a few too faint to photograph may drop
    assert record["train_size"] == training_part + record["sources"]["restyled"]
    assert "re-made as people send them" in record["data"] and record["settings"]["restyled_share"] == 0.5
    assert len(record["prior"]) == 62 and abs(sum(record["prior"]) - 1) < 1e-4  # stored to 7 decimals
    network = keras.saving.load_model(out / "network.keras", compile=False)
    probs = network.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert probs.shape == (2, 62) and np.allclose(probs.sum(1), 1, atol=1e-5)
