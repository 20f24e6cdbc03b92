"""Where the training scripts read and write, and the environment variables that move it, in one place.

The project root comes from `handwriting.config.PROJECT_DIR` (worked out there, once); the bundled model
folders from `handwriting.model_folder`. Everything else the training scripts touch is named here:

    HANDWRITING_DATA_DIR         data sets (mnist.npz, usps, hw62_dev, EMNIST)   default ../shared/datasets
    HANDWRITING_FONTS_DIR        fetched fonts (training.fonts)                  default data/fonts
    HANDWRITING_SYNTHETIC_CACHE  the synthetic render cache to train from        default newest in data/synthetic
    HANDWRITING_EMNIST_CACHE     EMNIST through the serving preprocessing        default data/emnist/preprocessed.npz
"""

from __future__ import annotations

import os
from pathlib import Path

from handwriting.config import PROJECT_DIR
from handwriting.model_folder import MODELS_DIR, bundled_folder  # noqa: F401  (for the training scripts)

DATA_DIR_ENV = "HANDWRITING_DATA_DIR"
FONTS_DIR_ENV = "HANDWRITING_FONTS_DIR"
SYNTHETIC_ENV = "HANDWRITING_SYNTHETIC_CACHE"
EMNIST_CACHE_ENV = "HANDWRITING_EMNIST_CACHE"

LOCAL_DATA = PROJECT_DIR / "data"  # git-ignored: fonts, caches, the app's local store
SHARED_DATASETS = PROJECT_DIR.parent / "shared" / "datasets"
FONTS_DIR = LOCAL_DATA / "fonts"
SYNTHETIC_DIR = LOCAL_DATA / "synthetic"
EMNIST_CACHE_FILE = LOCAL_DATA / "emnist" / "preprocessed.npz"
HW62_CACHE_DIR = LOCAL_DATA / "emnist"  # hw62_dev through the preprocessing, cached by compare_recipes
RUNS_DIR = PROJECT_DIR / "runs"  # training runs, retraining reports
RETRAIN_RUNS = RUNS_DIR / "retrain"
RECIPES_FILE = RUNS_DIR / "emnist" / "recipes.jsonl"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def data_dir(path=None) -> Path:
    """The argument, else `$HANDWRITING_DATA_DIR`, else the `shared/datasets` folder beside the project."""
    return Path(path) if path else (_env_path(DATA_DIR_ENV) or SHARED_DATASETS)


def fonts_dir(path=None) -> Path:
    """The argument, else `$HANDWRITING_FONTS_DIR`, else data/fonts."""
    return Path(path) if path else (_env_path(FONTS_DIR_ENV) or FONTS_DIR)


def emnist_cache(path=None) -> Path:
    """The argument, else `$HANDWRITING_EMNIST_CACHE`, else data/emnist/preprocessed.npz."""
    return Path(path) if path else (_env_path(EMNIST_CACHE_ENV) or EMNIST_CACHE_FILE)


def synthetic_cache(path=None) -> Path | None:
    """The argument, else `$HANDWRITING_SYNTHETIC_CACHE`, else the newest cache in data/synthetic (None: none)."""
    if path:
        return Path(path)
    if found := _env_path(SYNTHETIC_ENV):
        return found
    caches = sorted(SYNTHETIC_DIR.glob("synthetic_*.npz"), key=lambda p: p.stat().st_mtime)
    return caches[-1] if caches else None
