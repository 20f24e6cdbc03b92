"""Where weights come from: the real huggingface_hub download and cache code against a stand-in hub.

Each test gets a fresh stand-in hub on 127.0.0.1, a fresh hub cache and a tiny bundled model (version
0.9.0), so which of the three sources served a task is visible from the version alone.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from huggingface_hub import constants

import tiny_models
from handwriting import models as store
from hub_standin import HubStandIn

REPO = "team/handwriting-models"


@pytest.fixture
def hub():
    with HubStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def hub_env(hub, tmp_path, monkeypatch):
    """The app configured for the stand-in hub, online (conftest makes the rest of the suite offline)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HANDWRITING_MODEL_REPO", REPO)
    monkeypatch.delenv("HANDWRITING_MODEL_REVISION", raising=False)
    tiny_models.write_folder(tmp_path / "models" / "digits", version="0.9.0")
    store.forget()
    yield monkeypatch
    store.forget()


def publish_two_versions(hub: HubStandIn) -> tuple[str, str]:
    """digits 1.0.0 (tag digits-v1.0.0), then 1.0.1 (tag digits-v1.0.1, the head of main)."""
    first = hub.commit(REPO, tiny_models.folder_files(version="1.0.0", seed=1, prefix="digits/"), "digits 1.0.0")
    hub.tag(REPO, "digits-v1.0.0")
    second = hub.commit(REPO, tiny_models.folder_files(version="1.0.1", seed=2, prefix="digits/"), "digits 1.0.1")
    hub.tag(REPO, "digits-v1.0.1")
    return first, second


def resolve_again():
    store.forget()
    return store.resolve("digits")


@pytest.mark.slow
def test_pinned_revision_is_downloaded_and_served(hub, hub_env, tmp_path):
    first, second = publish_two_versions(hub)

    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.0")
    record = resolve_again()
    assert (record.version, record.origin, record.commit, record.revision) == ("1.0.0", "hub", first, "digits-v1.0.0")
    assert record.weights.is_file() and (tmp_path / "hub-cache") in record.weights.parents
    assert f"{REPO} at digits-v1.0.0" in record.source and first[:7] in record.source
    assert ("GET", f"/{REPO}/resolve/{first}/digits/model.keras") in hub.requests

    hub_env.setenv("HANDWRITING_MODEL_REVISION", "main")  # the latest published
    assert (resolve_again().version, resolve_again().commit) == ("1.0.1", second)

    hub_env.setenv("HANDWRITING_MODEL_REVISION", first)  # a commit hash pins too
    assert resolve_again().version == "1.0.0"

    # what was downloaded is what gets served: the recognizer runs it
    from handwriting.models import Model as Recognizer

    probs = Recognizer(record).probabilities(np.zeros((28, 28), np.float32))
    assert probs.shape == (10,) and abs(float(probs.sum()) - 1) < 1e-4


@pytest.mark.parametrize("outage", ["hub unreachable", "HF_HUB_OFFLINE=1"])
def test_restart_without_network_serves_the_cached_revision(hub, hub_env, caplog, outage):
    first, _ = publish_two_versions(hub)
    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.0")
    assert resolve_again().origin == "hub"

    if outage == "hub unreachable":
        hub.stop()
    else:
        hub_env.setattr(constants, "HF_HUB_OFFLINE", True)
    before = len(hub.requests)
    with caplog.at_level(logging.INFO, logger="handwriting"):
        record = resolve_again()
    assert (record.version, record.origin, record.commit) == ("1.0.0", "hub-cache", first)
    assert len(hub.requests) == before
    lines = [r.getMessage() for r in caplog.records if r.name == "handwriting"]
    assert len(lines) == 1 and "hub cache" in lines[0] and "1.0.0" in lines[0]


def test_a_tag_never_resolved_here_is_not_guessed_offline(hub, hub_env):
    publish_two_versions(hub)
    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.0")
    resolve_again()
    hub.stop()
    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.1")  # cached blobs exist, but not this tag's commit
    record = resolve_again()
    assert (record.version, record.origin) == ("0.9.0", "bundled")
    assert "no copy" in record.fallback_reason


def test_no_hub_and_no_cache_serves_bundled_and_says_so_in_one_line(hub, hub_env, caplog):
    publish_two_versions(hub)
    hub.stop()
    with caplog.at_level(logging.INFO, logger="handwriting"):
        record = resolve_again()
    assert (record.version, record.origin, record.commit) == ("0.9.0", "bundled", None)
    lines = [r for r in caplog.records if r.name == "handwriting"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    message = lines[0].getMessage()
    for part in ("bundled model 0.9.0", REPO, "cannot be reached", "no copy"):
        assert part in message


@pytest.mark.parametrize("revision", ["digits-v9.9.9", "no-such-branch"])
def test_a_revision_the_hub_does_not_have_falls_back_to_bundled(hub, hub_env, revision):
    publish_two_versions(hub)
    hub_env.setenv("HANDWRITING_MODEL_REVISION", revision)
    record = resolve_again()
    assert record.origin == "bundled" and "no such repo or revision" in record.fallback_reason


def test_a_missing_repo_falls_back_to_bundled(hub, hub_env):
    hub_env.setenv("HANDWRITING_MODEL_REPO", "team/never-created")
    record = resolve_again()
    assert record.origin == "bundled" and "team/never-created" in record.fallback_reason


@pytest.mark.parametrize("weights", ["three outputs", "not a model"])
def test_downloaded_weights_are_verified_before_they_are_trusted(hub, hub_env, weights):
    if weights == "three outputs":  # a consistent folder, for the wrong task
        files = tiny_models.folder_files(version="2.0.0", outputs=3, prefix="digits/")
    else:  # a model.tflite that says it is current but is no model
        files = tiny_models.folder_files(version="2.0.0", prefix="digits/")
        files["digits/model.tflite"] = b"TFL3 junk"
    hub.commit(REPO, files, "a broken upload")
    record = resolve_again()
    assert (record.version, record.origin) == ("0.9.0", "bundled")
    assert "no usable digits model" in record.fallback_reason
    assert ("shape (1, 3)" if weights == "three outputs" else "does not load") in record.fallback_reason


def test_the_hub_serves_model_tflite_in_litert(hub, hub_env):
    publish_two_versions(hub)
    record = resolve_again()
    assert (record.origin, record.version) == ("hub", "1.0.1") and (record.folder / "model.tflite").is_file()
    from handwriting.models import Model as Recognizer

    assert Recognizer(record).runtime.name == "litert"


@pytest.mark.parametrize("damage", ["no model.tflite", "stale model.tflite"])
def test_a_hub_folder_without_a_current_model_tflite_is_refused(hub, hub_env, caplog, damage):
    """Serving installs have no TensorFlow: a hub folder only model.keras could serve is not served."""
    files = tiny_models.folder_files(version="2.0.0", seed=1, prefix="digits/", litert=damage != "no model.tflite")
    if damage == "stale model.tflite":  # weights replaced after the conversion
        files["digits/model.keras"] = tiny_models.keras_file(seed=2)
    hub.commit(REPO, files, "digits 2.0.0, without a serving copy")
    with caplog.at_level(logging.INFO, logger="handwriting"):
        record = resolve_again()
    assert (record.version, record.origin) == ("0.9.0", "bundled")
    state = "missing" if damage == "no model.tflite" else "stale"
    assert f"model.tflite is {state}" in record.fallback_reason
    lines = [r for r in caplog.records if r.name == "handwriting"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "bundled model 0.9.0" in lines[0].getMessage() and f"model.tflite is {state}" in lines[0].getMessage()


def test_forget_resolved_reloads_a_task_already_loaded(hub, hub_env):
    """The recognizer cache follows the store's decision: after forget_resolved the new version answers."""
    from handwriting.models import load as get_recognizer
    from handwriting.runtime import load_runtime

    publish_two_versions(hub)
    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.0")
    store.forget()
    assert get_recognizer("digits").record.version == "1.0.0"

    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.1")
    store.forget()
    recognizer = get_recognizer("digits")
    assert recognizer.record.version == "1.0.1"
    x = np.random.default_rng(0).random((28, 28), np.float32)
    np.testing.assert_allclose(recognizer.probabilities(x), load_runtime(recognizer.record.folder)(x[None])[0], atol=1e-6)
    assert get_recognizer("digits") is recognizer  # and it stays loaded while the decision stands


def test_without_a_repo_the_bundled_model_is_served_and_the_hub_is_not_asked(hub, hub_env, caplog):
    publish_two_versions(hub)
    hub_env.delenv("HANDWRITING_MODEL_REPO")
    with caplog.at_level(logging.INFO, logger="handwriting"):
        record = resolve_again()
    assert (record.version, record.origin) == ("0.9.0", "bundled")
    assert hub.requests == []
    assert any("HANDWRITING_MODEL_REPO is not set" in r.getMessage() for r in caplog.records)


def test_the_decision_is_made_once(hub, hub_env):
    publish_two_versions(hub)
    resolve_again()
    asked = len(hub.requests)
    for _ in range(3):
        store.resolve("digits")
    assert len(hub.requests) == asked


def test_model_info_says_what_each_task_serves(hub, hub_env):
    first, _ = publish_two_versions(hub)
    hub_env.setenv("HANDWRITING_MODEL_REVISION", "digits-v1.0.0")
    store.forget()
    info = json.loads(json.dumps(store.model_info()))  # JSON-able as it is
    digits = info["digits"]
    assert digits["available"] and digits["version"] == "1.0.0" and digits["origin"] == "hub"
    assert (digits["repo"], digits["revision"], digits["commit"]) == (REPO, "digits-v1.0.0", first)
    assert digits["headline"] == "MNIST test 51.00%" and digits["accuracy"] == {"mnist_test": 0.51}
    assert info["letters"]["available"] is False and "not available" in info["letters"]["error"]
