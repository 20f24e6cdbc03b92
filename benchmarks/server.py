"""The app (or a benchmark variant of it) in a subprocess on a free loopback port, timed to its first answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

from benchmarks.http_api import TIMEOUT
from benchmarks.measure import cpu_seconds_of, rss_mb_of

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

APP = [sys.executable, str(ROOT / "app.py")]  # what `python app.py` runs
NULL_APP = [sys.executable, "-m", "benchmarks.null_app"]  # the same app with the do-nothing model


def variant(*flags: str, null_model: bool = False) -> list[str]:
    """The command of app.py with other queue settings (benchmarks/app_variant.py flags)."""
    return [sys.executable, "-m", "benchmarks.app_variant", *(["--null-model"] if null_model else []), *flags]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ExitedEarly(RuntimeError):
    """The app process ended before it answered."""


class AppProcess:
    """Runs `command` in the project root with a throw-away store and upload cache under `workdir`.

    `probe(client, url)` must raise until the app answers correctly; the time from the start of the
    process to its first success is `startup["first_answer_s"]`. A process that exits while starting is
    started once more (Gradio's launch gives up when its own 3 s check of the page times out, which
    happens on an overloaded machine); `startup["attempts"]` says how many starts it took.
    """

    def __init__(self, command: list[str], workdir: Path, name: str, probe: Callable[[httpx.Client, str], object],
                 deadline_s: float = 180.0, extra_env: dict[str, str] | None = None, attempts: int = 2):
        for attempt in range(1, attempts + 1):
            try:
                self._start(command, workdir, name, probe, deadline_s, extra_env)
                self.startup["attempts"] = attempt
                return
            except ExitedEarly:
                if attempt == attempts:
                    raise

    def _start(self, command, workdir, name, probe, deadline_s, extra_env) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store_dir = self.workdir / "store"
        self.log_path = self.workdir / "app.log"
        env = dict(os.environ, GRADIO_SERVER_NAME=HOST, GRADIO_SERVER_PORT=str(self.port),
                   HANDWRITING_STORE_DIR=str(self.store_dir), GRADIO_TEMP_DIR=str(self.workdir / "gradio-uploads"),
                   GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_OFFLINE="1",
                   **(extra_env or {}))
        for secret in ("GOOGLE_SHEETS_KEY", "GOOGLE_SERVICE_ACCOUNT_FILE", "GOOGLE_SERVICE_ACCOUNT_JSON"):
            env.pop(secret, None)  # a benchmark never writes to a real sheet
        self._log = self.log_path.open("wb")
        start = time.perf_counter()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        shown = ["python", *(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c for c in command[1:])]
        self.startup: dict = {"command": " ".join(shown), "listening_s": None, "first_answer_s": None}
        try:
            self._wait_first_answer(probe, start, start + deadline_s)
        except BaseException:
            self.stop()
            raise
        self.startup["peak_rss_mb_at_first_answer"] = rss_mb_of(self.proc.pid)
        self.startup["cpu_s_at_first_answer"] = cpu_seconds_of(self.proc.pid)  # steadier than wall time under load

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_first_answer(self, probe, start: float, deadline: float) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise ExitedEarly(f"{self.name} exited with {self.proc.returncode}; log:\n{self.log_tail()}")
                try:
                    if self.startup["listening_s"] is None:
                        client.get(f"{self.url}/gradio_api/info").raise_for_status()
                        self.startup["listening_s"] = round(time.perf_counter() - start, 2)
                    probe(client, self.url)
                    self.startup["first_answer_s"] = round(time.perf_counter() - start, 2)
                    return
                except (httpx.TransportError, httpx.HTTPStatusError):
                    time.sleep(0.05)
        raise TimeoutError(f"{self.name} gave no answer within the deadline; log:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP) while others are measured: an idle Gradio queue polls every 1 ms."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()  # a stopped process would not act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> "AppProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
