"""A local stand-in for the Google Sheets API v4 and Google's OAuth token endpoint, failing on demand.

It serves on 127.0.0.1 exactly what gspread 6 and google-auth call for the feedback sink, so the real
client code runs end to end (service-account JWT -> token -> Sheets calls):

    POST /token                                     JWT-bearer grant; the RS256 assertion is verified
    GET  /v4/spreadsheets/{id}                      metadata: the worksheets and their grid sizes
    POST /v4/spreadsheets/{id}:batchUpdate          addSheet
    GET  /v4/spreadsheets/{id}/values/{range}       read an A1 range (rows or columns)
    PUT  /v4/spreadsheets/{id}/values/{range}       write a range (the header row)
    POST /v4/spreadsheets/{id}/values/{range}:append  append rows after the last one

Sheets calls need a bearer token it issued (401 otherwise). Failures on demand, for Sheets calls:
`fail(kind, times)` queues them, `chaos(rate, kinds)` draws them at random, `write_quota(n, seconds)`
answers 429 like the real per-user quota, a cell over 50,000 characters gets the real 400, and
`down()` / `up()` close and reopen the port (connections
are refused meanwhile). Kinds: "429", "500", "500_applied" (the write lands, the answer is a 500),
"timeout" (no answer in time, nothing lands), "timeout_applied" (lands, the answer comes too late) and
"drop_applied" (lands, the connection is closed without an answer). It stops by itself after
`lifetime_s`; loopback only.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from google.auth import jwt

TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
KINDS = ("429", "500", "500_applied", "timeout", "timeout_applied", "drop_applied")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def parse_range(a1: str) -> tuple[str, tuple[int | None, int | None, int | None, int | None]]:
    """"'Title'!A1:B3" -> ("Title", (row0, col0, row1, col1)), 1-based, None = open-ended."""
    title, _, cells = a1.partition("!")
    title = title[1:-1].replace("''", "'") if title.startswith("'") else title
    if not cells:
        return title, (None, None, None, None)
    start, _, end = cells.partition(":")
    end = end or start
    r0, c0 = _cell(start)
    r1, c1 = _cell(end)
    return title, (r0, c0, r1, c1)


def _cell(text: str) -> tuple[int | None, int | None]:
    m = re.fullmatch(r"([A-Za-z]*)(\d*)", text)
    if not m:
        raise ValueError(f"bad range {text!r}")
    return (int(m.group(2)) if m.group(2) else None, _column_number(m.group(1)) if m.group(1) else None)


class Worksheet:
    def __init__(self, sheet_id: int, title: str, rows: int = 1000, cols: int = 26):
        self.sheet_id, self.title, self.row_count, self.col_count = sheet_id, title, rows, cols
        self.rows: list[list] = []

    def properties(self, index: int) -> dict:
        return {"sheetId": self.sheet_id, "title": self.title, "index": index, "sheetType": "GRID",
                "gridProperties": {"rowCount": self.row_count, "columnCount": self.col_count}}

    def last_row(self) -> int:
        for i in range(len(self.rows), 0, -1):
            if any(v not in ("", None) for v in self.rows[i - 1]):
                return i
        return 0


class SheetsStandIn:
    def __init__(self, public_key_pem: str, client_email: str, spreadsheet_id: str = "feedback-sheet",
                 hang_s: float = 2.0, lifetime_s: float = 300.0, seed: int = 0):
        self.public_key_pem = public_key_pem
        self.client_email = client_email
        self.spreadsheet_id = spreadsheet_id
        self.hang_s = hang_s  # how long a "timeout" keeps the client waiting
        self.sheets = [Worksheet(0, "Sheet1")]
        self.lock = threading.Lock()
        self.counts: Counter = Counter()  # what happened, by kind of request and failure
        self._counts_lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self._queued: list[str] = []
        self._chaos_rate, self._chaos_kinds = 0.0, KINDS
        self._quota: tuple[int, float] | None = None
        self._writes: list[float] = []
        self._random = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self._connections: set = set()
        self.port = 0
        self._deadline = time.monotonic() + lifetime_s
        self.up()
        threading.Thread(target=self._expire, daemon=True, name="sheets-standin-lifetime").start()

    # control ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listen (again, on the same port after `down()`)."""
        if self._server is not None:
            return
        handler = type("Handler", (_Handler,), {"standin": self})
        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="sheets-standin").start()

    def down(self) -> None:
        """Close the port: until `up()`, connections are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            with self.lock:
                connections, self._connections = self._connections, set()
            for conn in connections:  # kept-alive connections die with the server, as in an outage
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.count("went_down", 1)

    def stop(self) -> None:
        self.down()

    def _expire(self) -> None:
        while time.monotonic() < self._deadline:
            time.sleep(0.5)
        self.stop()

    def fail(self, kind: str, times: int = 1, on: str = "any") -> None:
        """The next `times` Sheets calls (`on="append"`: appends only) fail with `kind`."""
        assert kind in KINDS and on in ("any", "append"), (kind, on)
        with self.lock:
            self._queued.extend([(kind, on)] * times)

    def chaos(self, rate: float, kinds=KINDS) -> None:
        """Fail each Sheets call with probability `rate`, with a kind drawn from `kinds` (0 = calm)."""
        with self.lock:
            self._chaos_rate, self._chaos_kinds = rate, tuple(kinds)

    def write_quota(self, writes: int | None, seconds: float = 60.0) -> None:
        with self.lock:
            self._quota = None if writes is None else (writes, seconds)
            self._writes.clear()

    def calm(self) -> None:
        """No more failures of any kind."""
        with self.lock:
            self._queued.clear()
            self._chaos_rate = 0.0
            self._quota = None
        self.up()

    def worksheet(self, title: str) -> Worksheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def values(self, title: str) -> list[list]:
        with self.lock:
            return [list(r) for r in self.worksheet(title).rows]

    # used by the handler -------------------------------------------------------------------------------

    def count(self, key: str, n: int = 1) -> None:
        with self._counts_lock:
            self.counts[key] += n

    def next_failure(self, is_write: bool, is_append: bool) -> str | None:
        with self.lock:
            for i, (kind, on) in enumerate(self._queued):
                if on == "any" or is_append:
                    del self._queued[i]
                    return kind
            if self._chaos_rate and self._random.random() < self._chaos_rate:
                return self._random.choice(self._chaos_kinds)
            if is_write and self._quota:
                limit, window = self._quota
                now = time.monotonic()
                self._writes = [t for t in self._writes if t > now - window]
                if len(self._writes) >= limit:
                    return "429"
                self._writes.append(now)
        return None


class _Handler(BaseHTTPRequestHandler):
    standin: SheetsStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.standin.lock:
            self.standin._connections.add(self.connection)

    def finish(self) -> None:
        with self.standin.lock:
            self.standin._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # plumbing --------------------------------------------------------------------------------------------

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): exactly what a timeout looks like from here

    def _error(self, status: int, message: str, reason: str) -> None:
        self._send(status, {"error": {"code": status, "message": message, "status": reason}})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        s = self.standin
        s.count("requests", 1)
        parts = urlsplit(self.path)
        body = self._body()
        if method == "POST" and parts.path == "/token":
            return self._token(body)
        m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(.*)", parts.path)
        if not m:
            s.count("unknown_path", 1)
            return self._error(404, f"no such endpoint {parts.path}", "NOT_FOUND")
        if not self._authorised():
            s.count("unauthorised", 1)
            return self._error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        key, rest = m.group(1), m.group(2)
        if key != s.spreadsheet_id:
            return self._error(404, "Requested entity was not found.", "NOT_FOUND")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        payload = json.loads(body) if body else {}
        failure = s.next_failure(is_write=method != "GET", is_append=rest.endswith(":append"))
        if failure:
            s.count(f"failure_{failure}", 1)
        if failure in ("429", "500", "timeout"):
            if failure == "timeout":
                time.sleep(s.hang_s)
                return self._error(503, "The service is currently unavailable.", "UNAVAILABLE")
            if failure == "429":
                return self._error(429, "Quota exceeded for quota metric 'Write requests'.", "RESOURCE_EXHAUSTED")
            return self._error(500, "Internal error encountered.", "INTERNAL")
        status, answer = self._serve(method, rest, query, payload)
        if failure == "500_applied":
            return self._error(500, "Internal error encountered.", "INTERNAL")
        if failure == "timeout_applied":
            time.sleep(s.hang_s)
        if failure == "drop_applied":
            self.close_connection = True
            self.connection.close()
            return None
        return self._send(status, answer)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.standin.lock:
            expiry = self.standin.tokens.get(token)
        return expiry is not None and expiry > time.time()

    def _token(self, body: bytes) -> None:
        s = self.standin
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._send(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(form.get("assertion", ""), certs=s.public_key_pem, audience=TOKEN_AUDIENCE)
        except Exception:
            s.count("token_refused", 1)
            return self._send(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if claims.get("iss") != s.client_email or "spreadsheets" not in claims.get("scope", ""):
            s.count("token_refused", 1)
            return self._send(400, {"error": "invalid_grant", "error_description": "Invalid issuer or scope."})
        token = secrets.token_urlsafe(24)
        with s.lock:
            s.tokens[token] = time.time() + 3600
        s.count("token", 1)
        return self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # the Sheets API ------------------------------------------------------------------------------------

    def _serve(self, method: str, rest: str, query: dict, payload: dict) -> tuple[int, dict]:
        s = self.standin
        sid = s.spreadsheet_id
        with s.lock:
            if method == "GET" and rest == "":
                s.count("metadata", 1)
                return 200, {"spreadsheetId": sid, "properties": {"title": "Feedback", "locale": "en_US"},
                             "sheets": [{"properties": w.properties(i)} for i, w in enumerate(s.sheets)]}
            if method == "POST" and rest == ":batchUpdate":
                replies = []
                for request in payload.get("requests", []):
                    props = request["addSheet"]["properties"]
                    grid = props.get("gridProperties", {})
                    sheet = Worksheet(max(w.sheet_id for w in s.sheets) + 1, props["title"],
                                      grid.get("rowCount", 1000), grid.get("columnCount", 26))
                    s.sheets.append(sheet)
                    replies.append({"addSheet": {"properties": sheet.properties(len(s.sheets) - 1)}})
                s.count("add_sheet", 1)
                return 200, {"spreadsheetId": sid, "replies": replies}
            m = re.fullmatch(r"/values/([^:]+)(:append)?", rest)
            if not m:
                return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
            title, (r0, c0, r1, c1) = parse_range(unquote(m.group(1)))
            sheet = s.worksheet(title)
            if sheet is None:
                return 400, {"error": {"code": 400, "message": f"Unable to parse range: {title}", "status": "INVALID_ARGUMENT"}}
            if m.group(2):
                return self._append(sheet, payload, query)
            if method == "PUT":
                return self._update(sheet, r0 or 1, c0 or 1, payload)
            return self._read(sheet, r0 or 1, c0 or 1, r1, c1, query)

    def _append(self, sheet: Worksheet, payload: dict, query: dict) -> tuple[int, dict]:
        if query.get("valueInputOption") != "RAW":
            return 400, {"error": {"code": 400, "message": "valueInputOption must be RAW here", "status": "INVALID_ARGUMENT"}}
        if any(len(str(v)) > 50_000 for row in payload.get("values", []) for v in row):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                         "Your input contains more than the maximum of 50000 characters in a single cell."}}
        start = sheet.last_row()
        del sheet.rows[start:]
        new = [list(r) for r in payload.get("values", [])]
        sheet.rows.extend(new)
        sheet.row_count = max(sheet.row_count, len(sheet.rows))
        self.standin.count("append_ok", 1)
        self.standin.count("rows_appended", len(new))
        return 200, {"spreadsheetId": self.standin.spreadsheet_id, "tableRange": f"'{sheet.title}'!A1:J{start}",
                     "updates": {"updatedRange": f"'{sheet.title}'!A{start + 1}", "updatedRows": len(new)}}

    def _update(self, sheet: Worksheet, r0: int, c0: int, payload: dict) -> tuple[int, dict]:
        values = payload.get("values", [])
        for i, row in enumerate(values):
            while len(sheet.rows) < r0 + i:
                sheet.rows.append([])
            target = sheet.rows[r0 + i - 1]
            while len(target) < c0 - 1 + len(row):
                target.append("")
            target[c0 - 1 : c0 - 1 + len(row)] = row
        self.standin.count("update_ok", 1)
        return 200, {"spreadsheetId": self.standin.spreadsheet_id, "updatedRows": len(values)}

    def _read(self, sheet: Worksheet, r0: int, c0: int, r1, c1, query: dict) -> tuple[int, dict]:
        self.standin.count("read", 1)
        rows = sheet.rows[r0 - 1 : r1 if r1 else None]
        rows = [r[c0 - 1 : c1 if c1 else None] for r in rows]
        if query.get("valueRenderOption") != "UNFORMATTED_VALUE":
            rows = [[_formatted(v) for v in r] for r in rows]
        rows = [_trim(r) for r in rows]
        while rows and not rows[-1]:
            rows.pop()
        if query.get("majorDimension") == "COLUMNS":
            width = max((len(r) for r in rows), default=0)
            rows = [_trim([r[j] if j < len(r) else "" for r in rows]) for j in range(width)]
        answer = {"range": f"'{sheet.title}'", "majorDimension": query.get("majorDimension", "ROWS")}
        if rows:
            answer["values"] = rows
        return 200, answer


def _formatted(value):
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return "" if value is None else str(value)


def _trim(row: list) -> list:
    row = list(row)
    while row and row[-1] in ("", None):
        row.pop()
    return row
