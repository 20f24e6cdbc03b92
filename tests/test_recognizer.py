"""The shared predict path on the bundled digit model: real predictions, batching, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import imagegen
from handwriting import ModelUnavailableError, UnknownTaskError, load, predict
from handwriting.batching import MicroBatcher


def test_bundled_model_reads_mnist_fixture_digits(mnist_samples):
    x, y = mnist_samples
    recognizer = load("digits")
    probs = recognizer.runtime(x.astype(np.float32) / 255.0)
    assert (probs.argmax(1) == y).mean() >= 0.98


@pytest.mark.slow
def test_predict_recognises_user_style_inputs(mnist_samples):
    x, y = mnist_samples
    forms = [imagegen.canvas_rgba, imagegen.photo, lambda d: imagegen.encode(imagegen.dark_on_white(d))]
    for make in forms:
        hits = [predict(make(digit), "digits").label == str(label) for digit, label in zip(x[::4], y[::4])]
        assert np.mean(hits) >= 0.9, make


def test_predict_returns_every_label_with_probabilities(mnist_samples):
    prediction = predict(mnist_samples[0][0], "digits")
    result = prediction.as_dict()
    assert set(result) == set("0123456789")
    assert sum(result.values()) == pytest.approx(1.0, abs=1e-4)
    (first, p1), (_, p2), (_, p3) = prediction.top(3)
    assert p1 >= p2 >= p3 and (first, p1) == (prediction.label, prediction.confidence)
    assert prediction.model_input.shape == (28, 28) and prediction.task.name == "digits"


def test_bundled_model_serves_with_litert_matching_keras(mnist_samples):
    from training.export import TOLERANCE, check_inputs
    from training.keras_runtime import KerasRuntime

    recognizer = load("digits")
    assert recognizer.runtime.name == "litert"  # models/digits/model.tflite is current
    keras_runtime = KerasRuntime(recognizer.record.weights)
    batch = np.concatenate([mnist_samples[0][:64].astype(np.float32) / 255.0, check_inputs()])
    assert np.abs(recognizer.runtime(batch) - keras_runtime(batch)).max() <= TOLERANCE


def test_stale_litert_file_is_not_served(tmp_path):
    import json
    import shutil

    from handwriting.runtime import RuntimeUnavailableError, load_runtime
    from training.keras_runtime import load_any

    bundled = load("digits").record.folder
    for name in ("model.keras", "model.tflite", "model.tflite.json"):
        shutil.copy(bundled / name, tmp_path / name)
    assert load_runtime(tmp_path).name == "litert"
    # model.keras replaced after the conversion (as a retrain would): its hash no longer matches
    (tmp_path / "model.tflite.json").write_text(json.dumps({"keras_sha256": "0" * 64}))
    with pytest.raises(RuntimeUnavailableError, match="stale.*python -m training.export"):
        load_runtime(tmp_path)
    assert load_any(tmp_path).name == "keras"  # training still evaluates the weights themselves


def test_unknown_task_and_missing_model(tmp_path, monkeypatch):
    with pytest.raises(UnknownTaskError, match="Unknown task 'klingon'"):
        predict(np.zeros((28, 28)), "klingon")
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(tmp_path))
    from handwriting.models import resolve

    with pytest.raises(ModelUnavailableError, match="letters model is not available.*model.tflite is missing"):
        resolve("letters")


def test_micro_batcher_answers_each_caller_with_its_own_row():
    calls = []

    def model(batch):
        calls.append(len(batch))
        return batch.sum(axis=(1, 2))[:, None] * np.ones((1, 3))

    batcher = MicroBatcher(model, max_batch=8)
    results = {}

    def ask(i):
        results[i] = batcher(np.full((28, 28), i, np.float32))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i][0] == pytest.approx(i * 784) for i in range(40))
    assert sum(calls) == 40 and max(calls) <= 8


def test_micro_batcher_runs_a_lone_request_in_the_callers_thread():
    threads = []

    def model(batch):
        threads.append(threading.current_thread())
        return np.ones((len(batch), 2))

    batcher = MicroBatcher(model)
    batcher(np.zeros((28, 28), np.float32))
    assert threads == [threading.current_thread()]


def test_micro_batcher_shares_model_calls_while_the_model_is_busy():
    calls = []

    def slow_model(batch):
        calls.append(len(batch))
        time.sleep(0.05)
        return np.ones((len(batch), 2))

    batcher = MicroBatcher(slow_model)
    start = threading.Barrier(20)

    def caller():
        start.wait()
        batcher(np.zeros((28, 28), np.float32))

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(calls) == 20 and len(calls) < 20 and max(calls) > 1


def test_micro_batcher_gives_up_after_its_timeout_and_recovers():
    entered, release = threading.Event(), threading.Event()

    def stuck_model(batch):
        entered.set()
        release.wait(5)
        return np.ones((len(batch), 2))

    batcher = MicroBatcher(stuck_model, name="digits-batcher")
    first = threading.Thread(target=batcher, args=(np.zeros((28, 28), np.float32),))
    first.start()
    assert entered.wait(5)  # the first call now holds the model
    with pytest.raises(TimeoutError, match="digits-batcher"):
        batcher(np.zeros((28, 28), np.float32), timeout=0.1)
    release.set()
    first.join()
    assert batcher(np.zeros((28, 28), np.float32)).tolist() == [1.0, 1.0]


def test_micro_batcher_reports_model_failures_and_keeps_going():
    def model(batch):
        if batch[0, 0, 0] < 0:
            raise RuntimeError("model exploded")
        return np.ones((len(batch), 2))

    batcher = MicroBatcher(model)
    with pytest.raises(RuntimeError, match="exploded"):
        batcher(np.full((28, 28), -1.0, np.float32))
    assert batcher(np.zeros((28, 28), np.float32)).tolist() == [1.0, 1.0]


def test_the_micro_batcher_answers_many_rows_of_one_caller_in_order_beside_single_callers():
    import threading

    from handwriting.batching import MicroBatcher

    calls = []

    def model(batch):
        calls.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :1] * 2  # each row's answer: twice its first value

    batcher = MicroBatcher(model, max_batch=8)
    singles = []
    threads = [threading.Thread(target=lambda v=v: singles.append((v, float(batcher(np.full((2, 2), v))[0]))))
               for v in (1000.0, 2000.0)]
    for t in threads:
        t.start()
    rows = batcher.rows([np.full((2, 2), float(i)) for i in range(50)])
    for t in threads:
        t.join()
    assert [float(r[0]) for r in rows] == [2.0 * i for i in range(50)]
    assert sorted(singles) == [(1000.0, 2000.0), (2000.0, 4000.0)]
    assert max(calls) <= 8 and sum(calls) == 52
