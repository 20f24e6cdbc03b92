"""The serving install before and after issue 12: venv size, install time, image size, start to first answer.

    python -m benchmarks.bench_install [--runs 3] [--workdir /tmp/bench_install] [--skip-install]

- install: a fresh venv per requirements file, `pip install -r` with pip's cache (the first install fills
  it: its time is "cold", a repeat of it "warm"); `du` of the venv and its site-packages, and whether
  TensorFlow got in. Before: `requirements.txt` as of BEFORE_COMMIT (TensorFlow, Keras, matplotlib, ...);
  after: this checkout's `requirements.txt`.
- image: estimated, not built (no Docker daemon here): the python:3.11-slim base (BASE_IMAGE_MB, an
  assumption) + the installed packages (site-packages less pip, which the base has) + the files the
  Dockerfile copies.
- start-up: `python app.py` from process start to its first /predict answered over HTTP (one digit PNG),
  before (BEFORE_COMMIT's code in the full venv) and after (this checkout in the serving venv), alternated.

Writes benchmarks/results/install.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "install.json"
BEFORE_COMMIT = "878d895"  # the last commit before the requirements split
BASE_IMAGE_MB = 131.0  # ASSUMED: `docker images` size of python:3.11-slim (linux/amd64); not measured here
COPIED = ("app.py", "handwriting", "ui", "models")  # what the Dockerfile copies besides requirements.txt


def du_bytes(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def du_h(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def mb(n: int) -> float:
    return round(n / 2**20, 1)


def install(requirements: Path, venv: Path, python: str) -> dict:
    """A fresh venv with `requirements` installed: seconds (venv + pip) and sizes."""
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True,
                   cwd=requirements.parent)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), **sizes(venv)}


def sizes(venv: Path) -> dict:
    site = next((venv / "lib").glob("python3*/site-packages"))
    pip_dirs = [p for p in site.iterdir() if p.name.startswith(("pip", "setuptools"))]
    names = subprocess.run([str(venv / "bin/python"), "-m", "pip", "list", "--format", "json"], capture_output=True,
                           text=True, check=True).stdout
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(names)}
    return {
        "venv_du_sh": du_h(venv),
        "venv_mb": mb(du_bytes(venv)),
        "site_packages_mb": mb(du_bytes(site)),
        "site_packages_less_pip_mb": mb(du_bytes(site) - sum(du_bytes(p) for p in pip_dirs)),
        "distributions": len(installed),
        "tensorflow_installed": any(n.startswith("tensorflow") for n in installed),
        "heavy": {n: installed.get(n) for n in ("tensorflow-cpu", "tensorflow", "keras", "matplotlib", "tqdm",
                                                "hershey-fonts", "ai-edge-litert")},
    }


def checkout(commit: str, folder: Path) -> Path:
    """`commit`'s tracked files (code and bundled models) in `folder`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def image_estimate(site_less_pip_mb: float, root: Path) -> dict:
    copied = sum(du_bytes(root / name) for name in COPIED if (root / name).exists())
    return {"estimated_mb": round(BASE_IMAGE_MB + site_less_pip_mb + mb(copied), 0), "base_mb_assumed": BASE_IMAGE_MB,
            "packages_mb": site_less_pip_mb, "app_files_mb": mb(copied)}


def first_answer(venv: Path, root: Path, workdir: Path, name: str, png: Path, expected: str) -> dict:
    """`python app.py` in `root` with `venv`'s Python: seconds from start to its first /predict answer."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.http_api import predict_label
    from benchmarks.server import AppProcess

    def probe(client, url):
        label = predict_label(client, url, "predict", png)
        if label != expected:
            raise RuntimeError(f"{name} read the digit as {label}, not {expected}")

    app = AppProcess([str(venv / "bin/python"), str(root / "app.py")], workdir, name, probe, deadline_s=240,
                     extra_env={"PYTHONDONTWRITEBYTECODE": "1"})
    with app:
        return {k: app.startup[k] for k in ("listening_s", "first_answer_s", "cpu_s_at_first_answer",
                                            "peak_rss_mb_at_first_answer", "attempts")}


def digit_png(folder: Path) -> tuple[Path, str]:
    import numpy as np
    from PIL import Image

    with np.load(ROOT / "tests" / "fixtures" / "mnist_test_200.npz") as d:
        x, y = d["x"][0], int(d["y"][0])
    path = folder / "digit.png"
    Image.fromarray(255 - x).resize((112, 112)).save(path)  # dark ink on white, as a scan
    return path, str(y)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/bench_install")
    parser.add_argument("--runs", type=int, default=3, help="start-ups of each, alternated")
    parser.add_argument("--skip-install", action="store_true", help="reuse the venvs of an earlier run (sizes re-read)")
    parser.add_argument("--after-commit", default=None, help="run this commit's app.py as the 'after' (default: this "
                        "working tree as it is)")
    parser.add_argument("--python", default="python3.11", help="the interpreter the venvs are made with")
    parser.add_argument("--install-only", action="store_true", help="measure the installs, not the start-ups")
    args = parser.parse_args(argv)
    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    before_root = checkout(BEFORE_COMMIT, work / "before-checkout")
    after_root = checkout(args.after_commit, work / "after-checkout") if args.after_commit else ROOT
    venvs = {"before": work / "venv-before", "after": work / "venv-after"}
    files = {"before": before_root / "requirements.txt", "after": after_root / "requirements.txt"}
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    result = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "before": {"commit": BEFORE_COMMIT, "requirements": files["before"].read_text().splitlines()},
        "after": {"commit": args.after_commit or "working tree", "requirements": files["after"].read_text().splitlines()},
    }
    if args.skip_install:
        for name in venvs:
            result[name]["install"] = {**previous.get(name, {}).get("install", {}), **sizes(venvs[name])}
    else:
        # before first (fills pip's cache: cold), after (warm for the shared packages), before again (warm)
        result["before"]["install"] = install(files["before"], venvs["before"], args.python)
        result["before"]["install"]["cold_seconds"] = result["before"]["install"].pop("seconds")
        result["after"]["install"] = install(files["after"], venvs["after"], args.python)
        result["after"]["install"]["warm_seconds"] = result["after"]["install"].pop("seconds")
        warm = install(files["before"], venvs["before"], args.python)
        result["before"]["install"]["warm_seconds"] = warm["seconds"]
    for name, root in (("before", before_root), ("after", after_root)):
        result[name]["image"] = image_estimate(result[name]["install"]["site_packages_less_pip_mb"], root)
    result["image_note"] = (f"Estimated, not built: the Docker daemon is not available here and Docker Hub cannot be "
                            f"reached. python:3.11-slim is ASSUMED to be {BASE_IMAGE_MB:g} MB; the rest is measured "
                            "(site-packages less pip, plus the files the Dockerfile copies).")

    if args.install_only:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
        return result
    png, label = digit_png(work)
    runs = {"before": [], "after": []}
    for i in range(args.runs):
        for name, root in (("before", before_root), ("after", after_root)):
            r = first_answer(venvs[name], root, work / "apps", f"{name}-{i}", png, label)
            runs[name].append(r)
            print(f"{name} run {i + 1}: first answer {r['first_answer_s']} s ({r['cpu_s_at_first_answer']} s CPU, "
                  f"RSS {r['peak_rss_mb_at_first_answer']} MiB)", flush=True)
    for name in runs:
        firsts = sorted(r["first_answer_s"] for r in runs[name])
        result[name]["startup"] = {"runs": runs[name], "first_answer_s_median": firsts[len(firsts) // 2],
                                   "first_answer_s_min": firsts[0], "first_answer_s_max": firsts[-1]}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    for name in ("before", "after"):
        i, s, im = result[name]["install"], result[name]["startup"], result[name]["image"]
        print(f"{name:>6}: venv {i['venv_du_sh']} ({i['venv_mb']} MiB, {i['distributions']} distributions, TensorFlow "
              f"{'yes' if i['tensorflow_installed'] else 'no'}); image ~{im['estimated_mb']:.0f} MB (estimate); "
              f"start to first answer median {s['first_answer_s_median']} s (min {s['first_answer_s_min']}, "
              f"max {s['first_answer_s_max']})")
    print(f"wrote {OUT}")
    return result


if __name__ == "__main__":
    main()
