"""Every setting the library and app read from the environment, in one place, with offline defaults.

Nothing here needs credentials: with no variables set the app serves the bundled models from `models/`
and stores everything locally. Feedback also goes to a Google Sheet only when GOOGLE_SHEETS_KEY and a
service account (GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON) are set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _env_path(name: str, default: Path | None) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def default_data_dir(persistent: Path = Path("/data")) -> Path:
    """Where the SQLite files and kept uploads live: a Space's persistent storage (/data) when it is
    mounted and writable (the container's own folder is lost on every restart), else ./data."""
    if persistent.is_dir() and os.access(persistent, os.W_OK | os.X_OK):
        return persistent / "handwriting"
    return PROJECT_DIR / "data"


def parse_size(text: str) -> int:
    """"10mb", "500kb", "1gb" or a plain byte count -> bytes (Gradio's max_file_size notation)."""
    units = {"gb": 1024**3, "mb": 1024**2, "kb": 1024, "b": 1}
    text = text.strip().lower()
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


@dataclass(frozen=True)
class SheetsSettings:
    """Where feedback is copied in Google Sheets, and how the background sender paces itself.

    The sender's timings are settings so tests can run an outage and its recovery in seconds; the
    defaults keep under the Sheets API quota of 60 writes a minute per user.
    """

    key: str = field(default_factory=lambda: os.environ.get("GOOGLE_SHEETS_KEY", "").strip())  # key or URL
    worksheet: str = field(default_factory=lambda: os.environ.get("GOOGLE_SHEETS_WORKSHEET", "feedback"))
    service_account_file: str = field(default_factory=lambda: os.environ.get("GOOGLE_SERVICE_ACCOUNT_FILE", ""))
    # the key's content itself (hosted platforms keep secrets in variables): never printed
    service_account_json: str = field(default_factory=lambda: os.environ.get("GOOGLE_SERVICE_ACCOUNT_JSON", ""), repr=False)
    # tests only: send every *.googleapis.com request (token and Sheets API) to this base URL instead
    endpoint: str = field(default_factory=lambda: os.environ.get("HANDWRITING_SHEETS_ENDPOINT", "").rstrip("/"))
    batch_size: int = field(default_factory=lambda: _env_int("HANDWRITING_SHEETS_BATCH", 100))
    writes_per_minute: float = field(default_factory=lambda: _env_float("HANDWRITING_SHEETS_WRITES_PER_MINUTE", 50))
    timeout_s: float = field(default_factory=lambda: _env_float("HANDWRITING_SHEETS_TIMEOUT", 30))
    retry_base_s: float = field(default_factory=lambda: _env_float("HANDWRITING_SHEETS_RETRY_BASE", 2))
    retry_max_s: float = field(default_factory=lambda: _env_float("HANDWRITING_SHEETS_RETRY_MAX", 300))
    idle_poll_s: float = field(default_factory=lambda: _env_float("HANDWRITING_SHEETS_POLL", 10))

    @property
    def configured(self) -> bool:
        """A sheet is named: feedback is queued for it (even while its credentials are broken)."""
        return bool(self.key)


@dataclass(frozen=True)
class HubSettings:
    """Where `handwriting.hub` pulls versioned weights from (the Hugging Face hub), and how long it waits.

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
    # the bundled models' folder when HANDWRITING_MODELS_DIR moves it; None: handwriting.model_folder.MODELS_DIR
    models_dir: Path | None = field(default_factory=lambda: _env_path("HANDWRITING_MODELS_DIR", None))
    data_dir: Path = field(default_factory=lambda: _env_path("HANDWRITING_STORE_DIR", None) or default_data_dir())
    # A postgresql:// URL: feedback, its outbox, idempotency keys, kept uploads and high scores then live in
    # that database, shared by every replica; unset: SQLite files in data_dir. Holds a password: never shown.
    database_url: str = field(default_factory=lambda: os.environ.get("HANDWRITING_DATABASE_URL", "").strip(), repr=False)
    host: str = field(default_factory=lambda: os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or 7860))
    max_file_size: str = field(default_factory=lambda: os.environ.get("HANDWRITING_MAX_UPLOAD", "10mb"))
    # Feedback keeps each upload once (by content), re-encoded without metadata at most this many pixels
    # on its longest side (enough for a reviewer to read a photo of one character or a line)...
    original_side: int = field(default_factory=lambda: _env_int("HANDWRITING_ORIGINAL_SIDE", 1024))
    # ...and all kept uploads together within this size: the oldest are dropped first (their records stay).
    originals_budget: str = field(default_factory=lambda: os.environ.get("HANDWRITING_ORIGINALS_BUDGET", "300mb"))
    # Gradio keeps every session's state (every API call without a session is a new one) for its 10,000 most
    # recent sessions by default. This bounds it; the oldest sessions are forgotten first.
    max_sessions: int = field(default_factory=lambda: int(os.environ.get("HANDWRITING_MAX_SESSIONS", "1000")))
    # Sessions one client address may hold (a flood from one address then pushes out only its own; a
    # classroom behind one NAT shares it)
    max_sessions_per_client: int = field(default_factory=lambda: _env_int("HANDWRITING_SESSIONS_PER_CLIENT", 200))
    # Every upload and drawing lands in Gradio's cache folder and stays there until the app stops: files
    # older than this many seconds are deleted (checked hourly, or as often as this if it is shorter).
    upload_ttl_s: int = field(default_factory=lambda: _env_int("HANDWRITING_UPLOAD_TTL", 24 * 3600))
    # Game: rounds one client address may have in play at once; whether rounds played through the API
    # appear in the page's high-score table (off: a script cannot top the table people see).
    game_rounds_per_client: int = field(default_factory=lambda: _env_int("HANDWRITING_GAME_ROUNDS_PER_CLIENT", 10))
    game_api_scores: bool = field(default_factory=lambda: os.environ.get("HANDWRITING_GAME_API_SCORES", "") == "1")
    # rounds one client address keeps in a day's high-score table of each mode, its best (0: no limit; a
    # classroom behind one address: raise it)
    game_table_per_client: int = field(default_factory=lambda: _env_int("HANDWRITING_GAME_TABLE_PER_CLIENT", 1))
    # How long a Python thread may hold the interpreter while another waits for it, in ms (0: Python's own 5 ms).
    # Shorter lets the event loop back in sooner while a worker runs a model; worth it only on a host shared
    # with other work (docs/capacity.md).
    switch_interval_ms: float = field(default_factory=lambda: _env_float("HANDWRITING_SWITCH_INTERVAL_MS", 0.0))
    sheets: SheetsSettings = field(default_factory=SheetsSettings)
    hub: HubSettings = field(default_factory=HubSettings)

    @property
    def upload_cleanup(self) -> tuple[int, int]:
        """Gradio's `delete_cache` (how often, how old), both in seconds."""
        ttl = max(1, self.upload_ttl_s)
        return (min(3600, ttl), ttl)

    @property
    def max_file_bytes(self) -> int:
        return parse_size(self.max_file_size)

    @property
    def originals_budget_bytes(self) -> int:
        return parse_size(self.originals_budget)


def settings() -> Settings:
    """Read the environment now (tests change it between calls)."""
    return Settings()


def quiet_third_parties() -> None:
    """No telemetry or version checks: set before gradio or huggingface_hub are imported."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
