"""The lean serving install (issue 12): serving runs on requirements.txt alone, which holds no TensorFlow.

The tests install everything (requirements-dev.txt), so "serving never imports TensorFlow" is checked in a
fresh process that imports the app and answers with every bundled model, then reports what it imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Imported by a serving requirement only when something else installed them (pandas takes pyarrow if it is
# there; the tests' `datasets` brings it): a serving install works without them.
OPTIONAL_WHEN_INSTALLED = {"pyarrow"}
TRAINING_ONLY = ("tensorflow", "tensorflow-cpu", "keras", "matplotlib", "tqdm", "hershey-fonts")

SERVE = r"""
import importlib.metadata, json, sys
import numpy as np
import app  # everything `python app.py` imports before it listens
from handwriting import TASKS, load, predict
answers = {}
for task in TASKS:
    result = predict(np.pad(np.ones((12, 4), np.float32), 8), task)
    answers[task] = {"labels": len(result.probabilities), "runtime": load(task).runtime.name}
files = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items()) if "." not in name}
print(json.dumps({"answers": answers, "modules": files}))
"""


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(canonical(re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]))
    return names


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    """A fresh `import app` that answers with each bundled model: what it answered and which modules it loaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDWRITING_MODEL", "GOOGLE_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_OFFLINE="1",
               HANDWRITING_STORE_DIR=str(tmp_path_factory.mktemp("store")), PYTHONPATH=str(ROOT))
    env.pop("HANDWRITING_MODELS_DIR", None)
    done = subprocess.run([sys.executable, "-c", SERVE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_serving_answers_with_litert_and_never_imports_tensorflow(served):
    assert served["answers"] == {"digits": {"labels": 10, "runtime": "litert"},
                                 "letters": {"labels": 52, "runtime": "litert"},
                                 "all": {"labels": 62, "runtime": "litert"}}
    for module in ("tensorflow", "keras", "matplotlib", "tf_keras", "training"):
        assert module not in served["modules"], f"serving imported {module}"


@pytest.mark.slow
def test_everything_serving_imports_is_installed_by_requirements_txt(served):
    """Each third-party module the app loaded belongs to a distribution requirements.txt installs (or needs)."""
    from importlib.metadata import PackageNotFoundError, distributions, packages_distributions, requires

    from packaging.requirements import Requirement

    wanted, closure = list(requirement_names(ROOT / "requirements.txt")), set()
    while wanted:
        name = wanted.pop()
        if name in closure:
            continue
        closure.add(name)
        try:
            for spec in requires(name) or []:
                req = Requirement(spec)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    wanted.append(canonical(req.name))
        except PackageNotFoundError:
            pass
    owners = {name: {canonical(d) for d in dists} for name, dists in packages_distributions().items()}
    by_file = {str(Path(d.locate_file(f)).resolve()): canonical(d.metadata["Name"])  # extension modules at the top
               for d in distributions() for f in d.files or [] if str(f).endswith((".so", ".py"))}
    third_party = {name: file for name, file in served["modules"].items()
                   if file and "site-packages" in file and name != "_distutils_hack"}
    missing = {name: owners.get(name) or by_file.get(str(Path(file).resolve())) for name, file in third_party.items()
               if not (owners.get(name) or {by_file.get(str(Path(file).resolve()))}) & closure
               and name not in OPTIONAL_WHEN_INSTALLED}
    assert not missing, f"imported at serve time but not installed by requirements.txt: {missing}"
    assert not closure & {"tensorflow", "tensorflow-cpu", "keras", "matplotlib", "hershey-fonts"}


def test_requirements_are_split_by_use():
    serving = requirement_names(ROOT / "requirements.txt")
    assert not serving & set(TRAINING_ONLY)
    assert {"ai-edge-litert", "gradio", "numpy", "pillow", "scipy", "huggingface-hub"} <= serving
    train = (ROOT / "requirements-train.txt").read_text()
    assert "-r requirements.txt" in train.splitlines()
    assert {"tensorflow", "tensorflow-cpu", "keras", "matplotlib", "tqdm", "hershey-fonts"} <= requirement_names(
        ROOT / "requirements-train.txt")
    assert "-r requirements-train.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "requirements-dev.txt" in (ROOT / "scripts" / "test.sh").read_text()  # the tests install everything


def test_the_container_installs_requirements_txt_and_copies_what_the_app_imports(served):
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs == ["pip install -r requirements.txt"]
    copied = {Path(line.split()[1]).name for line in dockerfile.splitlines() if line.startswith("COPY ")}
    ours = {Path(file).resolve().relative_to(ROOT).parts[0] for file in served["modules"].values()
            if file and Path(file).resolve().is_relative_to(ROOT) and "site-packages" not in file}
    assert ours <= copied, f"the app imports {sorted(ours - copied)}, which the Dockerfile does not copy"
    assert "models" in copied


def test_serving_runs_only_a_current_litert_copy_and_training_the_weights(tmp_path, caplog):
    import shutil

    from handwriting import runtime
    from handwriting.model_folder import MODELS_DIR
    from training.keras_runtime import load_any

    for name in ("model.keras", "model.tflite", "model.tflite.json"):
        shutil.copy(MODELS_DIR / "digits" / name, tmp_path / name)
    assert runtime.load_runtime(tmp_path).name == "litert" and load_any(tmp_path).name == "litert"

    (tmp_path / "model.tflite.json").write_text(json.dumps({"keras_sha256": "0" * 64}))  # stale
    with pytest.raises(runtime.RuntimeUnavailableError, match="stale.*python -m training.export"):
        runtime.load_runtime(tmp_path)
    with caplog.at_level("WARNING", logger="training"):
        assert load_any(tmp_path).name == "keras"  # training evaluates the weights themselves, and says why
    assert "stale" in caplog.text
    (tmp_path / "model.tflite").unlink()
    with pytest.raises(runtime.RuntimeUnavailableError, match="missing.*python -m training.export"):
        runtime.load_runtime(tmp_path)


def test_bundled_models_serve_their_current_litert_copy():
    from handwriting.model_folder import MODELS_DIR, litert_state

    for task in ("digits", "letters", "all"):
        assert litert_state(MODELS_DIR / task) == "current", task
