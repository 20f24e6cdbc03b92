"""Retraining on small data: feedback that corrects a deliberate confusion is learnt and promoted; a model
trained on shuffled labels is refused. Runs the real pipeline (`training.retrain.main`) end to end.

The scenario, from the 200 committed MNIST digits only (no ../shared needed):
- "MNIST" here is the fixture: 100 digits to train on, the other 100 as the test set;
- the base model learnt, on purpose, that a crossed 7 (a 7 with a bar through its stem) is a 1;
- the feedback says those crossed 7s are 7s (corrections), plus re-drawn training digits it got right.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from handwriting.tasks import labels_for
from handwriting.models import read_model_folder
from training import retrain, synthetic_feedback

SEVEN, ONE = labels_for("digits").index("7"), labels_for("digits").index("1")
# small-data settings: a higher learning rate and more epochs than the full-MNIST defaults
SMALL = ["--epochs", "6", "--batch-size", "32", "--learning-rate", "1e-3", "--lr-decay-per-epoch", "0.8",
         "--correction-repeats", "5", "--holdout-fraction", "0.25"]


def small_cnn():
    """A CNN small enough to learn from 160 images in seconds (the full design's batch norm needs more)."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
                              layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, mnist_samples):
    import keras

    root = tmp_path_factory.mktemp("retrain")
    x, y = mnist_samples
    train_x, train_y, test_x, test_y = x[::2], y[::2], x[1::2], y[1::2]
    data_dir = root / "data"
    data_dir.mkdir()
    np.savez(data_dir / "mnist.npz", x_train=train_x, y_train=train_y, x_test=test_x, y_test=test_y)

    # the base model: the fixture's training half, and crossed 7s taught as 1s
    sevens, _ = synthetic_feedback.glyphs("crossed_seven", 60, seed=1)
    keras.utils.set_random_seed(0)
    model = small_cnn()
    model.fit(np.concatenate([train_x, sevens])[..., None] / 255.0,
              np.concatenate([train_y, np.full(len(sevens), ONE)]), epochs=20, batch_size=32, verbose=0)
    base = root / "base"
    base.mkdir()
    model.save(base / "model.keras")
    (base / "metrics.json").write_text(json.dumps({"task": "digits", "version": "1.0.0"}))

    # the feedback: 60 corrected crossed 7s, 40 re-drawn training digits the model had right
    corrections, seven_labels = synthetic_feedback.glyphs("crossed_seven", 60, seed=2)
    confirmed = synthetic_feedback.redrawn(train_x[:40], seed=3)
    fx = np.concatenate([corrections, confirmed])
    fy = np.concatenate([seven_labels, train_y[:40]])
    was_correct = np.concatenate([np.zeros(60, bool), np.ones(40, bool)])
    feedback = synthetic_feedback.feedback_file(root / "feedback.npz", fx, fy, was_correct, seed=4)
    return {"root": root, "data_dir": data_dir, "base": base, "feedback": feedback}


def run(scenario, name: str, *extra: str) -> tuple[dict, object]:
    out = scenario["root"] / name
    report = retrain.main(["--feedback", str(scenario["feedback"]), "--data-dir", str(scenario["data_dir"]),
                           "--base-model", str(scenario["base"]), "--out", str(out),
                           "--promote-to", str(out / "promoted"), *SMALL, *extra])
    assert json.loads((out / "report.json").read_text())["decision"] == report["decision"]  # written either way
    assert (out / "report.md").read_text().startswith("## Retraining from feedback")
    return report, out


def predictions(weights, x) -> np.ndarray:
    from training.keras_runtime import KerasRuntime

    return KerasRuntime(weights)(x.astype(np.float32) / 255.0).argmax(1)


@pytest.mark.slow
def test_feedback_correcting_a_confusion_is_learnt_and_promoted(scenario):
    report, out = run(scenario, "corrections")

    held_out = report["comparison"]["feedback_heldout"]
    assert held_out["n"] >= 15 and held_out["verdict"] == "better"
    assert held_out["new_accuracy"] >= held_out["old_accuracy"] + 0.3
    assert report["comparison"]["mnist_test"]["verdict"] != "worse"
    assert report["skipped_sets"].keys() == {"usps", "hw62_digits"}  # absent here: compared on what exists
    assert report["promoted"] and report["training_set"]["corrections"] + report["training_set"]["confirmations"] < 100

    # crossed 7s it has never seen: the old model says 1, the new one 7
    fresh, _ = synthetic_feedback.glyphs("crossed_seven", 40, seed=9)
    assert (predictions(scenario["base"] / "model.keras", fresh) == ONE).mean() >= 0.8
    promoted = read_model_folder("digits", out / "promoted", source="test")
    assert (predictions(promoted.weights, fresh) == SEVEN).mean() >= 0.8

    # the promoted folder is a complete, versioned model folder: its serving copy, its card and the comparison
    from handwriting.model_folder import litert_is_current

    assert litert_is_current(out / "promoted")
    assert promoted.version == "1.0.1" and promoted.metrics["results"]["feedback_heldout"]["n"] == held_out["n"]
    card = (out / "promoted" / "README.md").read_text()
    assert card.startswith("---\n") and "## Retraining from feedback: promoted" in card
    assert json.loads((out / "promoted" / "retrain_report.json").read_text())["promoted"]


@pytest.mark.slow
def test_a_model_trained_on_shuffled_labels_is_refused(scenario):
    report, out = run(scenario, "shuffled", "--shuffle-labels")

    assert not report["promoted"] and report["decision"] == "refused"
    assert report["comparison"]["mnist_test"]["verdict"] == "worse"
    assert any(reason.startswith("worse on mnist_test") for reason in report["reasons"])
    assert not (out / "promoted").exists()  # nothing promoted...
    assert (out / "candidate" / "model.keras").is_file()  # ...but the candidate is kept for a look
    assert "## Retraining from feedback: refused" in (out / "candidate" / "README.md").read_text()


def test_held_out_feedback_is_chosen_by_id_and_stays_out_run_after_run():
    ids = [f"record-{i}" for i in range(2000)]
    first, again = retrain.held_out(ids, 0.2), retrain.held_out(list(reversed(ids)), 0.2)[::-1]
    assert (first == again).all() and 0.17 < first.mean() < 0.23
    assert (retrain.held_out(ids + ["one more"], 0.2)[:-1] == first).all()  # new records do not reshuffle old ones


def test_the_gate_allows_noise_on_small_sets_and_little_on_large_ones():
    settings = retrain.RetrainSettings()

    def verdict(n, lost, gained):
        class Runtime:
            def __init__(self, right):
                self.right = right

            def __call__(self, x):  # pixel (0, 0) holds the image's index
                probs = np.zeros((len(x), 10), np.float32)
                probs[np.arange(len(x)), np.where(self.right[x[:, 0, 0].astype(int)], 0, 1)] = 1
                return probs

        old_right = np.r_[np.ones(lost, bool), np.zeros(gained, bool), np.ones(n - lost - gained, bool)]
        new_right = np.r_[np.zeros(lost, bool), np.ones(gained, bool), np.ones(n - lost - gained, bool)]
        from training.evaluate import EvalSet

        x = np.zeros((n, 28, 28), np.float32)
        x[:, 0, 0] = np.arange(n)
        s = EvalSet("set", x, np.zeros(n, np.int64), "")
        _, _, rows = retrain.compare(Runtime(old_right), Runtime(new_right), [s], labels_for("digits"), settings)
        return rows["set"]["verdict"]

    assert verdict(10_000, lost=30, gained=0) == "worse"  # 0.3 points on MNIST test: refused
    assert verdict(10_000, lost=10, gained=0) == "same"  # 0.1 points: within tolerance
    assert verdict(50, lost=2, gained=0) == "same"  # 2 of 50: noise on a small set
    assert verdict(50, lost=10, gained=0) == "worse"
    assert verdict(50, lost=0, gained=10) == "better"


def test_the_gate_refuses_a_candidate_that_answers_more_real_characters_with_a_question_mark():
    """Same accuracy, but the new model's none unit takes 40 more of 10,000 real digits: not promoted."""
    from handwriting.refusal import RefusalPolicy
    from training.evaluate import EvalSet

    settings, policy = retrain.RetrainSettings(), RefusalPolicy(none_unit=True, none_threshold=0.5)

    class Runtime:
        def __init__(self, refused):
            self.refused = refused

        def __call__(self, x):  # pixel (0, 0) holds the image's index; every image is a 0, read right
            probs = np.zeros((len(x), 11), np.float32)
            probs[:, 0] = 0.6
            probs[:, 10] = 0.4
            probs[self.refused[x[:, 0, 0].astype(int)]] = [0.3] + [0.0] * 9 + [0.7]
            return probs

    n = 10_000
    x = np.zeros((n, 28, 28), np.float32)
    x[:, 0, 0] = np.arange(n)
    s = EvalSet("set", x, np.zeros(n, np.int64), "")
    old, new = np.zeros(n, bool), np.zeros(n, bool)
    new[:40] = True
    _, _, rows = retrain.compare(Runtime(old), Runtime(new), [s], labels_for("digits"), settings, policy, policy)
    assert rows["set"]["verdict"] == "same" and rows["set"]["new_accuracy"] == 1.0  # the characters are still read right
    assert rows["set"]["old_refused"] == 0.0 and rows["set"]["new_refused"] == 0.004
    assert rows["set"]["old_answered_right"] == 1.0 and rows["set"]["new_answered_right"] == 0.996  # "?" is wrong
    promoted, reasons = retrain.gate(rows)
    assert not promoted and "refuses" in reasons[0]
    _, _, rows = retrain.compare(Runtime(old), Runtime(old), [s], labels_for("digits"), settings, policy, policy)
    assert retrain.gate(rows)[0]


def test_the_gate_refuses_a_candidate_whose_question_mark_fades_on_what_it_must_refuse():
    """Same characters, but the retrained model answers "?" for 300 fewer of 2,000 doodles: not promoted."""
    from handwriting.refusal import RefusalPolicy

    settings, policy = retrain.RetrainSettings(), RefusalPolicy(none_unit=True, none_threshold=0.5)

    def runtime(refused_from):
        def call(x):  # pixel (0, 0) holds the image's index; images from `refused_from` on are answered "?"
            probs = np.zeros((len(x), 11), np.float32)
            probs[:, 0] = 1.0
            refused = x[:, 0, 0] >= refused_from
            probs[refused] = [0.2] + [0.0] * 9 + [0.8]
            return probs
        return call

    n = 2000
    x = np.zeros((n, 28, 28), np.float32)
    x[:, 0, 0] = np.arange(n)
    rows = retrain.compare_negatives(runtime(100), runtime(400), {"doodles": x}, policy, policy, settings)
    assert rows["doodles"]["old_refused"] == 0.95 and rows["doodles"]["new_refused"] == 0.8
    same = {"set": {"verdict": "same", "old_accuracy": 1.0, "new_accuracy": 1.0, "change": 0.0, "allowed_drop": 0.001}}
    promoted, reasons = retrain.gate(same, rows)
    assert not promoted and "doodles" in reasons[0] and "95.00% -> 80.00%" in reasons[0]
    assert retrain.gate(same, retrain.compare_negatives(runtime(100), runtime(101), {"doodles": x}, policy, policy,
                                                        settings))[0]  # one fewer of 2,000: noise


# ---------------------------------------------------------------------------------------------------
# The training package: one recipe for train and retrain, every setting on the command line, imports one way


@pytest.mark.slow
def test_train_takes_every_setting_from_the_command_line_and_fits_as_retrain_does(tmp_path, mnist_samples, monkeypatch):
    from handwriting.model_folder import litert_is_current, read_training
    from training import fit as fit_module
    from training import train

    fitted = []
    real_fit = fit_module.fit
    monkeypatch.setattr(fit_module, "fit", lambda model, x, y, settings, **kw: fitted.append(settings) or
                        real_fit(model, x, y, settings, **kw))
    x, y = mnist_samples
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    chosen = {"epochs": 1, "batch_size": 50, "learning_rate": 0.002, "lr_decay_per_epoch": 0.9, "validation_size": 40,
              "rotation_deg": 3.0, "zoom": 0.02, "shift": 0.03, "seed": 7}
    assert set(chosen) == {f.name for f in train.fields(train.TrainSettings)}
    options = [part for name, value in chosen.items() for part in (f"--{name.replace('_', '-')}", str(value))]
    out = tmp_path / "model"
    train.main(["digits", "--data-dir", str(tmp_path), "--out-dir", str(out), "--no-evaluate", *options])

    record = read_training(out)
    assert record["settings"] == chosen and record["train_size"] == 160 and record["machine"]
    assert litert_is_current(out)  # the folder serves without TensorFlow

    model = tmp_path / "small.keras"
    small_cnn().save(model)
    retrain.fine_tune(model, x[:64], y[:64], retrain.RetrainSettings(epochs=1))
    assert [type(s).__name__ for s in fitted] == ["TrainSettings", "RetrainSettings"]  # one recipe, both callers
    assert fitted[0] == train.TrainSettings(**chosen)


def test_the_same_seeded_fit_gives_the_same_model_twice(mnist_samples):
    """The augmentation's random draws reach the images in one order, so a retrain run again is the same
    model (and a gate on a few dozen images cannot pass one run and fail the next)."""
    import keras

    from training.fit import fit

    x, y = mnist_samples
    settings = retrain.RetrainSettings(epochs=2, batch_size=16)

    def weights_after_a_fit():
        keras.utils.set_random_seed(0)
        model = small_cnn()
        fit(model, x, y, settings)
        return model.get_weights()

    first, second = weights_after_a_fit(), weights_after_a_fit()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_training_imports_run_one_way():
    """No training module imports another that (directly or not) imports it back, even inside functions."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "training"
    graph = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | ({f"{node.module}.{a.name}" for a in node.names} if node.module == "training" else set())
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        graph[path.stem] = {n.split(".")[1] for n in names if n.startswith("training.")} - {path.stem}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    cycles = sorted(m for m in graph if reaches(m, m))
    assert not cycles, f"training modules importing each other: {cycles}"
    assert "train" not in graph["evaluate"] and "evaluate" in graph["train"]


def test_retraining_a_question_mark_model_leaves_the_features_the_none_unit_reads(tmp_path):
    """The none unit reads the network's features: a retrain of a "?" model leaves them as they were; only the
    character layer learns (the "?" head too stays as it was)."""
    import json

    import keras

    from training.model import build_model
    from training.refusal_head import HEAD_UNITS, assembled

    keras.utils.set_random_seed(3)
    base = tmp_path / "base"
    base.mkdir()
    build_model(10).save(base / "model.keras")
    run = tmp_path / "head"
    run.mkdir()
    keras.Sequential([keras.Input((64,)), keras.layers.Dense(HEAD_UNITS, activation="relu"),
                      keras.layers.Dense(1)]).save(run / "none_head.keras")
    (run / "head_record.json").write_text(json.dumps({"rich_features": False}))
    assembled(base, run).save(tmp_path / "model.keras")
    before = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    rng = np.random.default_rng(0)
    x, y = (rng.random((64, 28, 28)) * 255).astype(np.uint8), rng.integers(0, 11, 64)
    settings = retrain.RetrainSettings(epochs=1, learning_rate=1e-2)
    after = retrain.fine_tune(tmp_path / "model.keras", x, y, settings, character_layers_only=10)
    moved = [w.path for w, v in zip(before.weights, after.weights) if not np.allclose(w.numpy(), v.numpy())]
    assert [path for path in moved if "character_logits" not in path] == [], moved  # nor the "?" head, nor features
    assert any("character_logits" in path for path in moved)


def test_a_retrain_keeps_showing_and_gates_on_the_doodle_families_its_none_unit_learnt_from(tmp_path, monkeypatch):
    from handwriting.model_folder import write_training
    from training import none_data

    asked = []
    monkeypatch.setattr(none_data, "doodles", lambda families, n, seed: (asked.append(families) or
                                                                          (np.zeros((3, 28, 28), np.uint8), np.zeros(3))))
    write_training(tmp_path, {"none_unit": {"doodles_from": "train+"}})
    families = retrain.none_doodle_families(tmp_path)
    none_data.none_unit_base_data("letters", doodles_from=families)
    retrain.gate_negatives("letters", doodles_from=families)
    assert asked == ["train+", "train+"]
    write_training(tmp_path, {"none_unit": {"head": "none_head.keras"}})  # heads recorded before the option
    assert retrain.none_doodle_families(tmp_path) == "train"


@pytest.mark.parametrize("setting", [{"learn": "al"}, {"balance": "yes"}])
def test_a_misspelt_retrain_setting_is_refused_not_read_as_another(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        retrain.RetrainSettings(**setting)
    with pytest.raises(SystemExit):  # on the command line, a one-line error before any work
        retrain.main(["--feedback", "x.npz", f"--{next(iter(setting))}", next(iter(setting.values()))])


def feedback_report(row: dict, learn: str, decision: str = "refused") -> dict:
    """A retrain report whose only compared set is the held-out feedback (`row`), as `retrain.retrain` writes it."""
    return {"decision": decision, "promoted": decision == "promoted", "reasons": ["worse on letters"], "skipped_sets": {},
            "base": {"version": "2.3.0", "source": "bundled"}, "candidate": {"version": "2.3.1"},
            "feedback": {"records": 1000, "file": "fb.npz", "held_out": 186},
            "training_set": {"labels_shuffled": False, "base_images": 10, "feedback_records": 5, "corrections": 2,
                             "correction_repeats": 10, "confirmations": 3, "confirmation_repeats": 1, "images_per_epoch": 33},
            "settings": {**retrain.asdict(retrain.RetrainSettings(learn=learn))},
            "seconds": {"total": 1.0, "training": 0.5}, "comparison": {"feedback_heldout": row}, "negatives": {},
            "command": "python -m training.retrain"}


def test_the_report_shows_what_the_app_records_as_right_beside_the_refusals():
    row = {"n": 186, "old_accuracy": 0.962, "new_accuracy": 0.984, "change": 0.02, "allowed_drop": 0.03, "verdict": "same",
           "old_refused": 0.177, "new_refused": 0.005, "allowed_refusal_rise": 0.06, "refusal_verdict": "same",
           "old_answered_right": 0.801, "new_answered_right": 0.979}
    report = feedback_report(row, "new-head")
    text = retrain.report_markdown(report)
    assert "| feedback_heldout | 17.70% | 0.50% | 6.00% | same | 80.10% | 97.90% |" in text
    assert "thresholds are calibrated as the base's were" in text
    report["settings"]["learn"] = "characters"
    assert "keeps the base's refusal.json" in retrain.report_markdown(report)


def test_the_report_says_when_held_out_feedback_is_still_answered_with_a_question_mark_and_what_would_learn_it():
    row = {"n": 186, "old_accuracy": 0.962, "new_accuracy": 0.984, "change": 0.02, "allowed_drop": 0.03, "verdict": "same",
           "old_refused": 0.177, "new_refused": 0.170, "allowed_refusal_rise": 0.06, "refusal_verdict": "same",
           "old_answered_right": 0.801, "new_answered_right": 0.806}
    report = feedback_report(row, "characters", "promoted")
    assert "still answers \"?\" for 17%" in retrain.report_markdown(report) and "--learn new-head" in retrain.report_markdown(report)
    report["settings"]["learn"] = "new-head"
    report["training_set"]["new_head"] = {"training_seconds": 557.0, "head": "Dense(128, relu) -> Dense(1)", "data": "80,000 digits"}
    text = retrain.report_markdown(report)
    assert "still answers" not in text  # the head did learn: nothing to suggest
    assert "trained again (557 s): Dense(128, relu) -> Dense(1); on 80,000 digits" in text
    assert "calibrated as the base's were" in text
    row["new_refused"] = 0.01
    report["settings"]["learn"] = "characters"
    assert "still answers" not in retrain.report_markdown(report)


# Records the person said are none of the task's characters ("?": y == len(labels))


def none_feedback():
    from training.feedback_file import TrainingSet

    y = np.array([3, 10, 7, 10, 10, 1])  # 10: "it is no digit"
    x = np.zeros((6, 28, 28), np.uint8)
    x[:, 0, 0] = np.arange(6)  # pixel (0, 0) tells the records apart
    return TrainingSet("digits", x, y, labels_for("digits"), np.array([f"id{i}" for i in range(6)]),
                       np.array(["app"] * 6), np.array([True, False, False, True, False, True]))


def test_records_said_to_be_no_character_are_learnt_by_a_question_mark_model_and_left_out_by_others():
    from handwriting.refusal import RefusalPolicy

    kept, left_out = retrain.without_none_feedback(none_feedback(), RefusalPolicy(none_unit=True))
    assert left_out == 0 and kept.y.tolist() == [3, 10, 7, 10, 10, 1]
    kept, left_out = retrain.without_none_feedback(none_feedback(), RefusalPolicy.never())
    assert left_out == 3 and kept.y.tolist() == [3, 7, 1] and kept.ids.tolist() == ["id0", "id2", "id5"]
    assert kept.x[:, 0, 0].tolist() == [0, 2, 5] and kept.was_correct.tolist() == [True, False, True]


def test_held_out_records_said_to_be_no_character_are_gated_as_pictures_to_refuse(tmp_path):
    feedback, holdout = none_feedback(), np.array([True, True, False, True, False, True])
    sets, _ = retrain.evaluation_sets("digits", tmp_path, feedback, holdout, tmp_path / "no_emnist.npz")
    [held] = [s for s in sets if s.name == retrain.FEEDBACK_SET]
    assert held.y.tolist() == [3, 1]  # only the records that name a digit are scored as characters
    negatives = retrain.none_held_out(feedback, holdout)
    assert [round(v * 255) for v in negatives[retrain.NONE_FEEDBACK_SET][:, 0, 0]] == [1, 3]
    assert retrain.none_held_out(feedback, np.zeros(6, bool)) == {}

    class Refusing:  # answers "?" for the pictures whose index is in `which`
        def __init__(self, which):
            self.which = which

        def __call__(self, x):
            probs = np.zeros((len(x), 11), np.float32)
            probs[:, 0] = 1
            probs[np.isin(np.rint(x[:, 0, 0] * 255).astype(int), self.which)] = np.eye(11)[10]
            return probs

    from handwriting.refusal import RefusalPolicy

    policy = RefusalPolicy(none_unit=True, none_threshold=0.5)
    x = np.zeros((40, 28, 28), np.float32)
    x[:, 0, 0] = np.arange(40) / 255
    rows = retrain.compare_negatives(Refusing(range(10)), Refusing(range(40)), {retrain.NONE_FEEDBACK_SET: x},
                                     policy, policy, retrain.RetrainSettings())
    assert rows[retrain.NONE_FEEDBACK_SET]["verdict"] == "better"  # 25% -> 100% answered "?"
    promoted, reasons = retrain.gate({"mnist_test": {"verdict": "same"}}, rows)
    assert promoted and f"better on {retrain.NONE_FEEDBACK_SET}" in reasons[-1]
    rows = retrain.compare_negatives(Refusing(range(40)), Refusing(range(10)), {retrain.NONE_FEEDBACK_SET: x},
                                     policy, policy, retrain.RetrainSettings())
    assert not retrain.gate({"mnist_test": {"verdict": "same"}}, rows)[0]  # and one that stops refusing them fails


def test_the_report_says_what_became_of_the_records_said_to_be_no_character():
    row = {"n": 186, "old_accuracy": 0.96, "new_accuracy": 0.97, "change": 0.01, "allowed_drop": 0.03, "verdict": "same"}
    report = feedback_report(row, "new-head", "promoted")
    report["training_set"]["new_head"] = {"training_seconds": 5.0, "head": "Dense(1)", "data": "digits"}
    assert "said to be no character" not in retrain.report_markdown(report)
    report["training_set"].update(not_a_character=12, not_a_character_left_out=0)
    assert "12 of the feedback records were said to be no character: the \"?\" head trained again learns them" \
        in retrain.report_markdown(report)
    report["training_set"].update(not_a_character=0, not_a_character_left_out=7)
    assert "7 records said to be no character were left out: this model has no \"?\" unit" in retrain.report_markdown(report)


def test_synthetic_feedback_can_say_ticks_and_arrows_are_no_character():
    from handwriting.refusal import RefusalPolicy

    x, y = synthetic_feedback.glyphs("tick", 6, seed=3, task="letters")
    assert x.shape == (6, 28, 28) and x.dtype == np.uint8 and (x.reshape(6, -1).max(1) == 255).all()
    assert set(y) == {52}  # len(labels): none of them
    assert synthetic_feedback.parse_mix("emnist=7,tick=2,arrow=1", "all") == {"emnist": 0.7, "tick": 0.2, "arrow": 0.1}

    def refusing_the_first_two(batch):  # "?" for two pictures, a confident "a" for the rest
        probs = np.zeros((len(batch), 53), np.float32)
        probs[:, 0], probs[:2] = 1.0, np.eye(53)[52]
        return probs

    right = synthetic_feedback.answered_right(refusing_the_first_two, x, y, RefusalPolicy(none_unit=True, none_threshold=0.5))
    assert right.tolist() == [True, True, False, False, False, False]  # "?" is the right answer for them
