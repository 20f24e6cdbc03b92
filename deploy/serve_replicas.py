"""Serve the app as N replicas behind nginx with sticky sessions, all storing into one PostgreSQL database.

    HANDWRITING_DATABASE_URL=postgresql://user:password@host:5432/handwriting \\
        python deploy/serve_replicas.py --replicas 3 --port 8080

Each replica is `python app.py` on its own loopback port (from --first-port); nginx (Debian's package)
listens on --port with deploy/nginx.conf.template. Without a database URL the replicas would each keep
their own SQLite files: it refuses unless --allow-sqlite (for a quick look only). Ctrl-C (or SIGTERM)
stops nginx and every replica.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().with_name("nginx.conf.template")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render_config(ports: list[int], listen: str, run_dir: Path, max_body: str = "12m") -> str:
    """nginx.conf for replicas on 127.0.0.1:`ports`, listening on `listen` ("8080" or "0.0.0.0:8080")."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in ports)
    user_line = "user nobody nogroup;" if os.geteuid() == 0 else ""  # workers never run as root
    # safe_substitute: nginx's own $variables stay as they are; the fields are ${name} and all filled
    text = Template(TEMPLATE.read_text()).safe_substitute(
        servers=servers, listen=listen, run_dir=run_dir, max_body=max_body, user_line=user_line)
    assert not re.search(r"\$\{\w+\}", text.split("worker_processes", 1)[1]), "a field was left unfilled"
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, deadline_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {deadline_s:.0f} s")


class Replicas:
    """N app processes and nginx in front of them; `stop()` ends them all."""

    def __init__(self, n: int, port: int | None, first_port: int | None = None, run_dir: Path | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None):
        self.n = n  # port None: the replicas only, without nginx (tests that call each replica)
        self.port = port
        self.ports = [first_port + i for i in range(n)] if first_port else [free_port() for _ in range(n)]
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="handwriting-nginx-"))
        self.log_dir = Path(log_dir or self.run_dir)
        self.env = dict(os.environ, **(env or {}))
        self.apps: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_replica(self, i: int) -> subprocess.Popen:
        # its own upload cache: Gradio empties the cache folder when a server stops, which must not take
        # the files of the replicas (or other apps) still running
        uploads = self.run_dir / "uploads" / f"replica-{i}"
        env = dict(self.env, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.ports[i]),
                   GRADIO_TEMP_DIR=str(uploads))
        log = open(self.log_dir / f"replica-{i}.log", "ab")
        return subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)

    def start(self, deadline_s: float = 240) -> "Replicas":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.run_dir, self.run_dir / "temp"):  # nginx's workers (nobody) reach their temp folders
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o711)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "temp" / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.run_dir / "temp" / sub, 0o1777)  # the workers' user writes large uploads here
        self.apps = [self.start_replica(i) for i in range(self.n)]
        try:
            for i, proc in enumerate(self.apps):
                wait_for(self.replica_url(i) + "/gradio_api/info", deadline_s, proc)
            if self.port is None:
                return self
            conf = self.run_dir / "nginx.conf"
            conf.write_text(render_config(self.ports, str(self.port), self.run_dir))
            self.nginx = subprocess.Popen([NGINX, "-p", str(self.run_dir), "-e", str(self.run_dir / "error.log"), "-c", str(conf)], cwd=self.run_dir,
                                          stdout=subprocess.DEVNULL, stderr=open(self.run_dir / "nginx.out", "ab"))
            try:
                wait_for(f"{self.url}/gradio_api/info", 30, self.nginx)
            except RuntimeError as exc:
                said = "".join((self.run_dir / f).read_text(errors="replace")[-1500:]
                               for f in ("nginx.out", "error.log") if (self.run_dir / f).is_file())
                raise RuntimeError(f"{exc}: {said.strip()}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def restart(self, i: int, deadline_s: float = 240) -> None:
        """Start replica `i` again (after it stopped or was killed) on its port."""
        if self.apps[i].poll() is None:
            self.apps[i].terminate()
            self.apps[i].wait(20)
        self.apps[i] = self.start_replica(i)
        wait_for(self.replica_url(i) + "/gradio_api/info", deadline_s, self.apps[i])

    def stop(self) -> None:
        procs = ([self.nginx] if self.nginx else []) + self.apps
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> "Replicas":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", "-n", type=int, default=3)
    parser.add_argument("--port", type=int, default=8080, help="where nginx listens (all interfaces)")
    parser.add_argument("--first-port", type=int, default=7861, help="the first replica's loopback port")
    parser.add_argument("--run-dir", default=None, help="nginx's config, pid and logs, and the replicas' logs")
    parser.add_argument("--allow-sqlite", action="store_true", help="run without HANDWRITING_DATABASE_URL")
    args = parser.parse_args(argv)
    if not os.environ.get("HANDWRITING_DATABASE_URL") and not args.allow_sqlite:
        print("HANDWRITING_DATABASE_URL is not set: each replica would keep its own feedback, keys and high "
              "scores. Set it (docs/replicas.md) or pass --allow-sqlite.", file=sys.stderr)
        return 2
    replicas = Replicas(args.replicas, args.port, args.first_port, Path(args.run_dir) if args.run_dir else None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        replicas.start()
        print(f"{args.replicas} replicas behind nginx on port {args.port} (logs in {replicas.log_dir})", flush=True)
        while all(p.poll() is None for p in [replicas.nginx, *replicas.apps]):
            time.sleep(1)
        print("a replica or nginx stopped: stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        replicas.stop()


if __name__ == "__main__":
    raise SystemExit(main())
