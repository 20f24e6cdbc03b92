"""Every setting the library and app read from the environment, in one place, with offline defaults.

Nothing here needs credentials: with no variables set the app serves the bundled models from `models/`
and stores everything locally.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class HubSettings:
    """Where `handwriting.store` pulls versioned weights from (the Hugging Face hub), and how long it waits.

    With no repo the bundled `models/` are served. HF_ENDPOINT and HF_HUB_CACHE are the library's own
    variables, read here at call time (the library reads them once, at import) so tests can point them
    at a local stand-in; HF_TOKEN and HF_HUB_OFFLINE are left to the library.
    """

    repo: str = field(default_factory=lambda: os.environ.get("HANDWRITING_MODEL_REPO", "").strip())
    revision: str = field(default_factory=lambda: os.environ.get("HANDWRITING_MODEL_REVISION", "").strip() or "main")
    endpoint: str | None = field(default_factory=lambda: os.environ.get("HF_ENDPOINT", "").rstrip("/") or None)
    cache_dir: str | None = field(default_factory=lambda: os.environ.get("HF_HUB_CACHE") or None)
    timeout_s: float = field(default_factory=lambda: float(os.environ.get("HANDWRITING_HUB_TIMEOUT") or 10))


@dataclass(frozen=True)
class Settings:
    models_dir: Path = field(default_factory=lambda: _env_path("HANDWRITING_MODELS_DIR", PROJECT_DIR / "models"))
    data_dir: Path = field(default_factory=lambda: _env_path("HANDWRITING_STORE_DIR", PROJECT_DIR / "data"))
    host: str = field(default_factory=lambda: os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or 7860))
    max_file_size: str = field(default_factory=lambda: os.environ.get("HANDWRITING_MAX_UPLOAD", "10mb"))
    hub: HubSettings = field(default_factory=HubSettings)


def settings() -> Settings:
    """Read the environment now (tests change it between calls)."""
    return Settings()


def quiet_third_parties() -> None:
    """No telemetry or version checks: set before gradio or huggingface_hub are imported."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
