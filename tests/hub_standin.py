"""A stand-in for the Hugging Face hub's HTTP API on 127.0.0.1: enough for the real `huggingface_hub` client.

Tests point the library at it with HF_ENDPOINT (or `endpoint=`), so the library's own code runs unchanged:
revision resolution, tree listings, file downloads into the real cache, uploads and tags. It serves what
huggingface_hub 2.4 asks for in those paths:

- `GET  /api/models/{repo}[/revision/{rev}]`        repo info: the commit `sha` a revision resolves to
- `GET  /api/models/{repo}/tree/{rev}[/{path}]`     file listing (snapshot_download, list_repo_files)
- `GET  /api/models/{repo}/refs`                    branches and tags
- `HEAD|GET /{repo}/resolve/{rev}/{path}`           a file, with the `X-Repo-Commit` and `ETag` headers the
                                                    download cache is keyed on
- `POST /api/repos/create`                          create_repo (409 when it exists)
- `POST /api/models/{repo}/preupload/{rev}`         answers "regular" for every file: contents then travel
                                                    base64 inside the commit, so no LFS or Xet storage is needed
- `POST /api/models/{repo}/commit/{rev}`            the NDJSON commit (files, deletions, parentCommit check)
- `POST /api/models/{repo}/tag/{rev}`               create_tag (409 when the tag exists)
- `POST /api/validate-yaml`                         the model-card check create_commit makes for a root README

Writes need `Authorization: Bearer <token>` when the stand-in has a token. Errors carry the `X-Error-Code`
header the client turns into RepositoryNotFoundError, RevisionNotFoundError or EntryNotFoundError.
Loopback only; it stops by itself after `lifetime` seconds even if a test forgets to stop it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


def git_blob_oid(content: bytes) -> str:
    """The git object id of a file, as the hub reports for regular (non-LFS) files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    files: dict[str, bytes]
    message: str


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.tags:
            return self.commits[self.tags[revision]]
        if re.fullmatch(r"[0-9a-f]{40}", revision) and revision in self.commits:
            return self.commits[revision]
        return None


class HubStandIn:
    """An in-memory hub on 127.0.0.1. `url` is its HF_ENDPOINT; `requests` logs (method, path)."""

    def __init__(self, token: str | None = None, lifetime: float = 300.0):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = False

    def start(self) -> HubStandIn:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop answering: connections are refused from now on, as for a machine with no network."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self._connections):  # kept-alive client connections would go on being served
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- direct access for tests -------------------------------------------------------------------

    def commit(self, repo_id: str, files: dict[str, bytes], message: str = "commit", deletions=(),
               branch: str = "main") -> str:
        """Commit `files` on top of `branch` (creating the repo if needed); returns the commit id."""
        with self._lock:
            return self._commit_locked(repo_id, files, message, deletions, branch)

    def _commit_locked(self, repo_id, files, message, deletions, branch) -> str:
        repo = self.repos.setdefault(repo_id, Repo(repo_id))
        parent = repo.branches.get(branch)
        tree = dict(repo.commits[parent].files) if parent else {}
        for path in deletions:
            tree = {p: c for p, c in tree.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
        tree.update(files)
        self._counter += 1
        digest = hashlib.sha1(f"{parent}|{message}|{self._counter}|{time.time()}".encode())
        for path in sorted(tree):
            digest.update(f"{path}:{git_blob_oid(tree[path])}".encode())
        oid = digest.hexdigest()
        repo.commits[oid] = Commit(oid, tree, message)
        repo.branches[branch] = oid
        return oid

    def tag(self, repo_id: str, tag: str, revision: str = "main") -> None:
        with self._lock:
            repo = self.repos[repo_id]
            repo.tags[tag] = repo.resolve(revision).oid

    def files_at(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self._lock:
            return dict(self.repos[repo_id].resolve(revision).files)


def _handler_for(hub: HubStandIn):
    repo_part = r"(?P<repo>[^/]+/[^/]+)"
    kind = r"(?:models|datasets)"  # a dataset repo is served like a model repo (one namespace)
    routes = [
        ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
        ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
        ("GET", re.compile(rf"^/api/{kind}/{repo_part}/revision/(?P<rev>[^/]+)$"), "repo_info"),
        ("GET", re.compile(rf"^/api/{kind}/{repo_part}$"), "repo_info"),
        ("GET", re.compile(rf"^/api/{kind}/{repo_part}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$"), "tree"),
        ("GET", re.compile(rf"^/api/{kind}/{repo_part}/refs$"), "refs"),
        ("POST", re.compile(rf"^/api/{kind}/{repo_part}/preupload/(?P<rev>[^/]+)$"), "preupload"),
        ("POST", re.compile(rf"^/api/{kind}/{repo_part}/commit/(?P<rev>[^/]+)$"), "commit"),
        ("POST", re.compile(rf"^/api/{kind}/{repo_part}/tag/(?P<rev>[^/]+)$"), "create_tag"),
        ("GET", re.compile(rf"^/(?:datasets/)?{repo_part}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
        ("HEAD", re.compile(rf"^/(?:datasets/)?{repo_part}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
    ]
    writes = {"create_repo", "preupload", "commit", "create_tag"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def setup(self):
            super().setup()
            hub._connections.add(self.connection)

        def finish(self):
            hub._connections.discard(self.connection)
            super().finish()

        def do_GET(self):
            self._dispatch("GET")

        def do_HEAD(self):
            self._dispatch("HEAD")

        def do_POST(self):
            self._dispatch("POST")

        # -- plumbing ------------------------------------------------------------------------------

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            self.query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            hub.requests.append((method, parts.path))
            for route_method, pattern, name in routes:
                match = pattern.match(parts.path)
                if route_method == method and match:
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    if name in writes and hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
                        return self._send(401, {"error": "Invalid credentials in Authorization header"},
                                          headers={"X-Error-Message": "Invalid credentials in Authorization header"})
                    with hub._lock:
                        return getattr(self, name)(**args)
            self._send(404, {"error": f"no route for {method} {parts.path}"})

        def _send(self, status: int, payload=None, headers=None, body: bytes | None = None) -> None:
            if body is None:
                body = json.dumps(payload if payload is not None else {}).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _repo(self, repo: str) -> Repo | None:
            found = hub.repos.get(repo)
            if found is None:
                self._send(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
            return found

        def _commit_for(self, repo: Repo, rev: str) -> Commit | None:
            found = repo.resolve(rev)
            if found is None:
                self._send(404, {"error": f"Invalid rev id: {rev}"}, headers={"X-Error-Code": "RevisionNotFound"})
            return found

        def _repo_and_commit(self, repo: str, rev: str) -> tuple[Repo, Commit] | tuple[None, None]:
            """The repo and the commit `rev` names in it; (None, None) once a 404 for either is sent."""
            found = self._repo(repo)
            commit = self._commit_for(found, rev) if found else None
            return (found, commit) if commit else (None, None)

        # -- routes --------------------------------------------------------------------------------

        def create_repo(self):
            payload = json.loads(self.body or b"{}")
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            if repo_id in hub.repos:
                return self._send(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"})
            hub.repos[repo_id] = Repo(repo_id)
            self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})

        def validate_yaml(self):
            content = json.loads(self.body or b"{}").get("content", "")
            if not content.startswith("---\n"):
                return self._send(400, {"error": "README.md has no YAML metadata header"})
            self._send(200, {"errors": [], "warnings": []})

        def repo_info(self, repo, rev="main"):
            found = self._repo(repo)
            if not found:
                return
            if not found.commits and rev == "main":  # a new, empty repo has no commit yet
                return self._send(200, {"id": repo, "sha": None, "siblings": [], "private": False})
            commit = self._commit_for(found, rev)
            if commit:
                siblings = [{"rfilename": p} for p in sorted(commit.files)]
                self._send(200, {"id": repo, "sha": commit.oid, "siblings": siblings, "private": False,
                                 "library_name": "keras", "tags": ["keras"]})

        def tree(self, repo, rev, path=""):
            found = self._repo(repo)
            if not found:
                return
            if not found.commits and rev == "main":
                return self._send(200, [])
            commit = self._commit_for(found, rev)
            if not commit:
                return
            recursive = self.query.get("recursive", ["False"])[0].lower() == "true"
            prefix = path.strip("/") + "/" if path else ""
            entries, folders = [], set()
            for file_path, content in sorted(commit.files.items()):
                if not file_path.startswith(prefix):
                    continue
                rest = file_path[len(prefix):].split("/")
                for depth in range(1, len(rest)):
                    if recursive or depth == 1:
                        folders.add(prefix + "/".join(rest[:depth]))
                if recursive or len(rest) == 1:
                    entries.append({"type": "file", "path": file_path, "size": len(content),
                                    "oid": git_blob_oid(content)})
            for folder in sorted(folders):
                entries.append({"type": "directory", "path": folder,
                                "oid": hashlib.sha1(f"tree {commit.oid} {folder}".encode()).hexdigest()})
            self._send(200, entries)

        def refs(self, repo):
            found = self._repo(repo)
            if found:
                self._send(200, {
                    "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in found.branches.items()],
                    "converts": [],
                    "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in found.tags.items()],
                })

        def resolve(self, repo, rev, path):
            _, commit = self._repo_and_commit(repo, rev)
            if not commit:
                return
            if path not in commit.files:
                return self._send(404, {"error": "Entry not found"},
                                  headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit.oid})
            content = commit.files[path]
            self._send(200, body=content, headers={
                "Content-Type": "application/octet-stream",
                "X-Repo-Commit": commit.oid,
                "ETag": f'"{git_blob_oid(content)}"',
            })

        def preupload(self, repo, rev):
            found = self._repo(repo)
            if not found:
                return
            current = found.resolve(rev)
            existing = current.files if current else {}
            files = json.loads(self.body)["files"]
            self._send(200, {"files": [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                 "oid": git_blob_oid(existing[f["path"]]) if f["path"] in existing else None}
                for f in files
            ]})

        def commit(self, repo, rev):
            found = self._repo(repo)
            if not found:
                return
            if self.headers.get("Content-Type") != "application/x-ndjson":
                return self._send(400, {"error": "expected application/x-ndjson"})
            lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
            header = lines[0]["value"] if lines and lines[0]["key"] == "header" else {}
            parent = header.get("parentCommit")
            if parent and found.branches.get(rev) != parent:
                return self._send(412, {"error": "A commit has happened since. Please refresh and try again."})
            files, deletions = {}, []
            for item in lines[1:]:
                value = item["value"]
                if item["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif item["key"] in ("deletedFile", "deletedFolder"):
                    deletions.append(value["path"])
                else:
                    return self._send(400, {"error": f"the stand-in does not store {item['key']} operations"})
            oid = hub._commit_locked(repo, files, header.get("summary", ""), deletions, rev)
            self._send(200, {"commitUrl": f"{hub.url}/{repo}/commit/{oid}", "commitOid": oid,
                             "pullRequestUrl": None})

        def create_tag(self, repo, rev):
            found, commit = self._repo_and_commit(repo, rev)
            if not commit:
                return
            tag = json.loads(self.body)["tag"]
            if tag in found.tags:
                return self._send(409, {"error": f"Tag {tag} already exists"})
            found.tags[tag] = commit.oid
            self._send(200, {})

    return Handler
