"""Publishing: the library's real upload, commit and tag code against a stand-in hub, then serving it back."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import constants, metadata_load
from huggingface_hub.errors import HfHubHTTPError

import tiny_models
from handwriting import models as store
from hub_standin import HubStandIn
from training import publish

REPO = "team/handwriting-models"
TOKEN = "hf_standin_write_token"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with HubStandIn(token=TOKEN) as stand_in:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", stand_in.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        yield stand_in
    store.forget()


@pytest.fixture(params=["xet client installed", "HF_HUB_DISABLE_XET=1"])
def upload_path(request, monkeypatch):
    """Both of the library's upload paths: the pipelined one (hf_xet present) and plain create_commit."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", request.param != "xet client installed")
    return request.param


def model_folder(tmp_path, name="digits-1.0.0", **kwargs):
    return tiny_models.write_folder(tmp_path / name, **kwargs)


def test_publish_uploads_the_folder_as_one_tagged_commit(hub, tmp_path, upload_path):
    folder = model_folder(tmp_path, version="1.0.0")
    (folder / "training.json").write_text('{"epochs": 1}')

    done = publish.main(["--repo", REPO, "--model-dir", str(folder)])

    assert (done["tag"], done["version"], done["task"]) == ("digits-v1.0.0", "1.0.0", "digits")
    assert hub.repos[REPO].tags == {"digits-v1.0.0": done["commit"]}
    files = hub.files_at(REPO, "digits-v1.0.0")
    for path in folder.iterdir():
        assert files[f"digits/{path.name}"] == path.read_bytes()
    commits = [path for method, path in hub.requests if method == "POST" and "/commit/" in path]
    assert len(commits) == 1  # weights, metrics, cards: one commit


def test_the_repo_card_follows_the_hub_conventions(hub, tmp_path):
    done = publish.main(["--repo", REPO, "--model-dir", str(model_folder(tmp_path, version="1.0.0"))])
    card = hub.files_at(REPO, done["tag"])["README.md"].decode()
    (tmp_path / "README.md").write_text(card)
    meta = metadata_load(tmp_path / "README.md")
    assert meta["library_name"] == "keras" and "digits" in meta["tags"]
    assert "| digits | 1.0.0 | `digits-v1.0.0` | MNIST test 50.00%" in card
    assert f'hf_hub_download("{REPO}", "digits/model.keras", revision="digits-v1.0.0")' in card


def test_what_is_published_is_what_the_app_serves_next(hub, tmp_path, monkeypatch):
    first = publish.publish(model_folder(tmp_path, version="1.0.0", seed=1), REPO)
    second = publish.publish(model_folder(tmp_path, "next", version="1.0.1", seed=2), REPO)
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(tmp_path / "no-bundled-models"))
    monkeypatch.setenv("HANDWRITING_MODEL_REPO", REPO)
    for revision, expected in [("digits-v1.0.0", first), ("main", second)]:
        monkeypatch.setenv("HANDWRITING_MODEL_REVISION", revision)
        store.forget()
        record = store.resolve("digits")
        assert (record.origin, record.version, record.commit) == ("hub", expected["version"], expected["commit"])


def test_a_new_version_replaces_the_task_folder_and_keeps_other_tasks(hub, tmp_path):
    old = model_folder(tmp_path, version="1.0.0")
    (old / "confusion_usps.png").write_bytes(b"an old figure")
    publish.publish(old, REPO)
    publish.publish(model_folder(tmp_path, "letters", task="letters", version="0.1.0", outputs=52), REPO)
    publish.publish(model_folder(tmp_path, "new", version="1.0.1", seed=3), REPO)

    latest = hub.files_at(REPO, "main")
    assert "digits/confusion_usps.png" not in latest  # the new version does not have it
    assert "digits/confusion_usps.png" in hub.files_at(REPO, "digits-v1.0.0")  # the old one keeps it
    assert json.loads(latest["digits/metrics.json"])["version"] == "1.0.1"
    assert json.loads(latest["letters/metrics.json"])["version"] == "0.1.0"
    card = latest["README.md"].decode()
    assert "| digits | 1.0.1 |" in card and "| letters | 0.1.0 |" in card


def test_a_published_version_is_never_overwritten(hub, tmp_path):
    folder = model_folder(tmp_path, version="1.0.0")
    first = publish.publish(folder, REPO)
    with pytest.raises(SystemExit, match="already has digits-v1.0.0"):
        publish.main(["--repo", REPO, "--model-dir", str(folder)])
    assert hub.repos[REPO].branches["main"] == first["commit"]


def test_a_wrong_token_is_refused_and_nothing_lands(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_not_the_right_one")
    with pytest.raises(HfHubHTTPError, match="401"):
        publish.publish(model_folder(tmp_path, version="1.0.0"), REPO)
    assert REPO not in hub.repos


@pytest.mark.parametrize("damage", ["three outputs", "no card header", "no metrics"])
def test_a_broken_folder_is_refused_before_anything_is_uploaded(hub, tmp_path, damage):
    folder = model_folder(tmp_path, version="1.0.0")
    if damage == "three outputs":
        (folder / "model.keras").write_bytes(tiny_models.keras_file(outputs=3))
    elif damage == "no card header":
        (folder / "README.md").write_text("# A card without metadata\n")
    else:
        (folder / "metrics.json").unlink()
    with pytest.raises((publish.PublishError, store.ModelVerificationError)):
        publish.publish(folder, REPO)
    assert hub.requests == []


@pytest.mark.parametrize("serving_copy", ["missing", "stale"])
def test_publish_always_uploads_a_current_model_tflite(hub, tmp_path, monkeypatch, serving_copy):
    """The app serves model.tflite (no TensorFlow): publishing converts it when the folder lacks a current one."""
    from handwriting.model_folder import litert_state, sha256_of

    folder = model_folder(tmp_path, version="1.0.0", seed=1, litert=serving_copy != "missing")
    if serving_copy == "stale":  # the weights changed after the conversion
        (folder / "model.keras").write_bytes(tiny_models.keras_file(seed=2))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    done = publish.publish(folder, REPO)

    assert done["converted_litert"]
    files = hub.files_at(REPO, done["tag"])
    assert json.loads(files["digits/model.tflite.json"])["keras_sha256"] == sha256_of(folder / "model.keras")
    assert files["digits/model.tflite"] != before.get("model.tflite")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the folder itself is left as it was
    assert litert_state(folder) == serving_copy

    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(tmp_path / "no-bundled-models"))
    monkeypatch.setenv("HANDWRITING_MODEL_REPO", REPO)
    store.forget()
    record = store.resolve("digits")  # the hub's copy serves, in LiteRT
    from handwriting.runtime import load_runtime

    assert (record.origin, record.version) == ("hub", "1.0.0") and load_runtime(record.folder).name == "litert"


def test_a_folder_with_a_current_model_tflite_is_uploaded_as_it_is(hub, tmp_path):
    folder = model_folder(tmp_path, version="1.0.0")
    done = publish.publish(folder, REPO)
    assert not done["converted_litert"]
    assert hub.files_at(REPO, done["tag"])["digits/model.tflite"] == (folder / "model.tflite").read_bytes()
