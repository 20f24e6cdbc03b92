"""The shape of the code: imports run one way (UI -> feedback, game -> recognition core), Gradio only at the
edge, no two modules importing each other, and importing the app opens nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = ("handwriting", "training", "ui")
# above the recognition core, below the UI: feedback and the game, and the service that calls them all
EDGE = ("handwriting.feedback", "handwriting.game", "handwriting.service")
RUNS_A_MODEL = {"handwriting.models", "handwriting.runtime", "handwriting.hub", "handwriting.reading", "handwriting.service"}


def project_modules() -> dict[str, Path]:
    modules = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` names anywhere in the file (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def is_core(module: str) -> bool:
    """The recognition core: `handwriting`'s own modules (its __init__, the public face, re-exports the service)."""
    return module.startswith("handwriting.") and not module.startswith(EDGE)


def test_the_recognition_core_imports_neither_gradio_nor_what_sits_above_it():
    for module, path in project_modules().items():
        if is_core(module):
            above = {m for m in imports_of(path) if m.startswith(("gradio", "ui", *EDGE))}
            assert not above, f"{module} imports {sorted(above)}"


def test_gradio_lives_at_the_edge_and_the_library_never_imports_the_ui():
    allowed = {"app"}
    for module, path in project_modules().items():
        names = imports_of(path)
        if module.startswith("handwriting") or module.startswith("training"):
            assert not {m for m in names if m.split(".")[0] == "ui"}, f"{module} imports the UI"
        if not module.startswith("ui") and module not in allowed:
            assert not {m for m in names if m.split(".")[0] == "gradio"}, f"{module} imports gradio"


def test_feedback_and_the_game_do_not_import_each_other():
    for module, imported in graph().items():
        if module.startswith("handwriting.feedback"):
            assert not {m for m in imported if m.startswith("handwriting.game")}, module
        if module.startswith("handwriting.game"):
            assert not {m for m in imported if m.startswith("handwriting.feedback")}, module


def test_feedback_storage_sits_above_nothing_that_runs_a_model():
    """The store once imported the recognizer (to fill in a confidence): the caller passes it now."""
    for module, path in project_modules().items():
        if module.startswith("handwriting.feedback"):
            assert not imports_of(path) & RUNS_A_MODEL, module


def test_no_two_modules_import_each_other():
    g = graph()
    pairs = sorted({tuple(sorted((a, b))) for a, imported in g.items() for b in imported
                    if a in g.get(b, ()) and not (a.startswith(b + ".") or b.startswith(a + "."))})
    assert pairs == []  # a package's __init__ re-exporting its own modules is not a cycle


@pytest.mark.slow
def test_importing_the_app_opens_no_storage_and_starts_no_thread(tmp_path):
    """Spaces imports app.py for `demo`; the store, the Sheets sender and the warm-up start at launch."""
    script = textwrap.dedent("""
        import os, sys, threading
        sys.path.insert(0, sys.argv[1])
        before = {t.name for t in threading.enumerate()}
        import app
        started = {t.name for t in threading.enumerate()} - before
        print(sorted(started))
        print(sorted(os.listdir(os.environ["HANDWRITING_STORE_DIR"])) if os.path.exists(os.environ["HANDWRITING_STORE_DIR"]) else [])
    """)
    store = tmp_path / "store"
    env = {"HANDWRITING_STORE_DIR": str(store), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}
    out = subprocess.run([sys.executable, "-c", script, str(ROOT)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    threads, files = out.stdout.strip().splitlines()[-2:]
    assert "warm-up" not in threads and "sheets" not in threads.lower()
    assert files == "[]"
