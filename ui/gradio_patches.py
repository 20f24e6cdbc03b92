"""Every change the app makes to Gradio's internals, in one place, for the Gradio version it was written for
(`WRITTEN_FOR`; `check_gradio_version` says so in the log at launch, and tests/test_gradio_patches.py fails
on any other version: each patch below must then be checked against the new Gradio's code).

Patched: `Blocks.preprocess_data` and `Blocks.process_api` (overridden in `GuardedBlocks`),
`SessionState.__init__` (copied in `LazySessionState`) and `gradio.routes.StateHolder` (replaced by
`VisitorsFirstStateHolder` at launch); set: GRADIO_ANALYTICS_CACHE_FREQUENCY (when a `GuardedBlocks` is made).

Gradio checks and converts each input before our functions see it (`Blocks.preprocess_data`); a file
path outside its cache or a value of the wrong shape fails there with a 25-line traceback in the log and
an error with no message (`null`) for the caller. `GuardedBlocks` turns those into the app's one-line
refusals with a message.

Every API call without a session hash is a new Gradio session, and Gradio keeps only the most recent
`state_session_capacity` of them (HANDWRITING_MAX_SESSIONS): a flood of calls would push out visitors'
sessions (the prediction their Yes answers, their game round), and a flood of sessions holding state
would make Gradio evict the very session it is about to serve. Here the session being served is never
evicted; when the sessions are too many, those that hold no `gr.State` value go first (nothing is lost
with them), then those of the client address holding the most; and one address keeps at most
HANDWRITING_SESSIONS_PER_CLIENT sessions, its oldest going first.

Request bodies are bounded before they are read (`BodyLimit`), and a file named by a URL is refused
rather than fetched: the server never makes a request on a caller's behalf.

Gradio also builds a config of every block of the page for each new session (`SessionState.__init__`),
most of the work of a stateless API call (a script calling `/predict` without a session hash starts a new
session every time). `LazySessionState` builds a block's config only when it
is read (an update to that block, or a deep link), so a call pays for the blocks it touches.

Gradio's queue also recomputes its traffic summary for `/monitoring` (a pandas table of up to 10,000 past
events, grouped and ranked) after every event, in a worker thread holding the interpreter: under load
that cost grows with the traffic already served and slows every request in flight. `GuardedBlocks` has it
recomputed every ANALYTICS_EVERY events instead (GRADIO_ANALYTICS_CACHE_FREQUENCY, when not set already).

`GuardedBlocks.on_launch` runs the app's start-up work (opening storage, starting the Sheets sender,
warming the model) when the server starts, not when the module is imported.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from collections import Counter
from copy import copy

import gradio as gr
import gradio.routes
from gradio.exceptions import Error, InvalidPathError
from gradio.state_holder import SessionState, StateHolder
from pydantic import ValidationError
from starlette.middleware import Middleware

from handwriting.config import settings
from ui.body_limit import BodyLimit
from ui.inputs import NOT_AN_UPLOAD, refuse

MAX_ECHO = 200  # characters of a refused value that a message repeats
ANALYTICS_EVERY = 1000  # queue events between two recomputations of Gradio's /monitoring summary
WRITTEN_FOR = "6.31.0"  # the Gradio version these patches were written for and tested on

log = logging.getLogger("handwriting")


def check_gradio_version() -> bool:
    """Whether the installed Gradio is the one these patches were written for; a warning if not."""
    if gr.__version__ == WRITTEN_FOR:
        return True
    log.warning("Gradio %s is installed, but ui/gradio_patches.py was written for %s: check each patch against it",
                gr.__version__, WRITTEN_FOR)
    return False


def share_interpreter_fairly() -> None:
    """Apply `HANDWRITING_SWITCH_INTERVAL_MS` (unset or 0: Python's 5 ms stays).

    Gradio answers every request on one asyncio loop and runs the handlers in worker threads; while a
    worker decodes a picture or runs the model it holds the interpreter, and the loop waits up to the
    switch interval each time it wants it back. Measured in docs/capacity.md: worth setting (1) on a host
    shared with other work, not on a quiet one."""
    interval = settings().switch_interval_ms
    if interval > 0:
        sys.setswitchinterval(interval / 1000.0)


class GuardedBlocks(gr.Blocks):
    """`gr.Blocks` whose input checking refuses a bad request with a message, never a traceback, and
    which runs `on_launch` callbacks when it is launched."""

    def __init__(self, *args, **kwargs):
        os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))  # read when the queue is made
        super().__init__(*args, **kwargs)
        self.on_launch: list = []

    def launch(self, *args, **kwargs):
        check_gradio_version()
        keep_visitors_first()  # before Gradio builds its StateHolder
        app_kwargs = dict(kwargs.get("app_kwargs") or {})
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(BodyLimit, limits=body_limits())]
        kwargs["app_kwargs"] = app_kwargs
        share_interpreter_fairly()
        for start in self.on_launch:
            start()
        return super().launch(*args, **kwargs)

    async def process_api(self, block_fn, inputs, state=None, request=None, *args, **kwargs):
        """Note which client address each session belongs to (its budget of sessions is per address)."""
        session_hash = kwargs.get("session_hash")
        claim = getattr(getattr(self, "state_holder", None), "claim", None)
        if session_hash and claim is not None:
            claim(session_hash, client_address(request[0] if isinstance(request, list) and request else request))
        return await super().process_api(block_fn, inputs, state, request, *args, **kwargs)

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        if (remote := _remote_file(inputs)) is not None:  # Gradio would download it
            raise refuse(NOT_AN_UPLOAD, remote)
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except Error as exc:
            if not exc.print_exception:  # the app's own refusal: said and logged already
                raise
            # Gradio's own checks (a value not among a dropdown's choices): one line, the value cut short
            raise refuse(_cut_middle(str(exc.message), MAX_ECHO)) from None
        except InvalidPathError as exc:  # a file path outside the upload cache
            raise refuse(NOT_AN_UPLOAD, str(exc)) from None
        except ValidationError as exc:
            where = ".".join(str(part) for part in exc.errors()[0]["loc"]) if exc.errors() else ""
            raise refuse(f"A value sent to this endpoint is not in the form it takes{f' ({where})' if where else ''}: "
                         "see the API page for each parameter's form.", str(exc)) from None
        except ValueError as exc:  # e.g. too few values for the endpoint's inputs
            raise refuse("The request does not carry the values this endpoint takes: see the API page.",
                         str(exc)) from None


class LazyConfig(dict):
    """A session's {block id: config}, each built from the session's block on first read."""

    def __init__(self, blocks_config, ids):
        super().__init__()
        self._blocks_config = blocks_config
        self._order = list(ids)
        self._ids = set(self._order)

    def __missing__(self, key):
        if key not in self._ids:
            raise KeyError(key)
        value = self[key] = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        return value

    def __contains__(self, key):
        return key in self._ids or super().__contains__(key)

    def items(self):
        """Every block's config, in the page's order (a deep link reads them all)."""
        return [(key, self[key]) for key in self._order]


class LazySessionState(SessionState):
    """Gradio's SessionState (6.31's `__init__`, field for field) without building every block's config
    up front."""

    def __init__(self, blocks):
        self.blocks_config = copy(blocks.default_config)
        known = blocks.blocks  # a property: read once, not once per block
        self.config_values = LazyConfig(self.blocks_config, [k for k in self.blocks_config.blocks if k in known])
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


class VisitorsFirstStateHolder(StateHolder):
    """Gradio's StateHolder that never evicts the session it serves, evicts stateless sessions first and
    then those of the busiest client address, keeps each address to a budget of sessions, and whose
    sessions build their blocks' config lazily.

    Every request passes through here on the server's event loop, under one lock, so no step walks every
    session: a claim looks at its own address's sessions (kept in an index), an eviction at the oldest
    ones until it meets one without state (all of them only when every session holds state)."""

    def __init__(self):
        super().__init__()
        self.per_client = settings().max_sessions_per_client
        self._by_client: dict[str, dict[str, None]] = {}  # address -> its sessions, least recently claimed first

    def __getitem__(self, session_id: str) -> SessionState:
        with self.lock:
            session = self.session_data.get(session_id)
            if session is None:
                session = self.session_data[session_id] = LazySessionState(self.blocks)
            self.session_data.move_to_end(session_id)
            self._evict(keep=session_id)
            self.time_last_used[session_id] = datetime.datetime.now()
            return session

    def update(self, session_id: str):
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            self._evict(keep=session_id)

    def claim(self, session_id: str, client: str) -> None:
        """`session_id` is `client`'s: beyond its budget, that address's other sessions go, stateless first,
        oldest first."""
        with self.lock:
            session = self.session_data.get(session_id)
            if session is None:
                return
            self._unindex(session_id, session)
            session.client = client
            mine = self._by_client.setdefault(client, {})
            mine[session_id] = None  # the most recently claimed
            while len(mine) > max(1, self.per_client):
                self._drop(self._oldest(mine, session_id, stateless=True) or self._oldest(mine, session_id))

    def _oldest(self, ids, keep: str, stateless: bool = False) -> str | None:
        """The first of `ids` (oldest first) other than `keep`, or the first that holds no state."""
        return next((sid for sid in ids if sid != keep and not (stateless and self.session_data[sid].state_data)),
                    None)

    def _evict(self, keep: str) -> None:
        while len(self.session_data) > self.capacity and (victim := self._victim(keep)) is not None:
            self._drop(victim)

    def _victim(self, keep: str) -> str | None:
        """The stateless session used longest ago, else the oldest session of the address holding most."""
        stateless = self._oldest(self.session_data, keep, stateless=True)
        if stateless is not None or len(self.session_data) < 2:
            return stateless
        held = Counter(_client(s) for sid, s in self.session_data.items() if sid != keep)
        busiest = max(held, key=held.get)
        return next(sid for sid, s in self.session_data.items() if sid != keep and _client(s) == busiest)

    def _drop(self, session_id: str) -> None:
        self._unindex(session_id, self.session_data.pop(session_id))
        self.time_last_used.pop(session_id, None)

    def _unindex(self, session_id: str, session) -> None:
        mine = self._by_client.get(_client(session))
        if mine is not None:
            mine.pop(session_id, None)
            if not mine:
                del self._by_client[_client(session)]


def _cut_middle(message: str, limit: int) -> str:
    """A message at most about `limit` characters, cut in the middle: Gradio's messages put the value the
    caller sent in the middle and what would be right at the end."""
    if len(message) <= limit:
        return message
    half = limit // 2
    return f"{message[:half]}... ({len(message) - 2 * half:,} characters cut) ...{message[-half:]}"


def _client(session) -> str | None:
    return getattr(session, "client", None)


def client_address(request) -> str:
    """The caller's address (behind a proxy, set uvicorn's FORWARDED_ALLOW_IPS so it is the visitor's)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _remote_file(value, depth: int = 0) -> str | None:
    """The first file in a request's inputs named by a URL (which Gradio would fetch), or None."""
    if depth > 8:
        return None
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and "://" in path[:16]:
            return path
        return next((found for v in value.values() if (found := _remote_file(v, depth + 1)) is not None), None)
    if isinstance(value, (list, tuple)):
        return next((found for v in value if (found := _remote_file(v, depth + 1)) is not None), None)
    return None


def body_limits() -> dict[str, int]:
    """The largest request body each route takes, in bytes: uploads up to a batch's total, everything else
    up to an inline (base64) image at the upload limit, with room for the rest of the JSON."""
    from ui.inputs import MAX_BATCH_BYTES

    inline = settings().max_file_bytes * 4 // 3 + 2**20
    return {"/gradio_api/upload": max(MAX_BATCH_BYTES, settings().max_file_bytes) + 2**20, "": inline}


def keep_visitors_first() -> None:
    """Make every app launched from now on use VisitorsFirstStateHolder (Gradio builds its StateHolder
    when it launches, from `gradio.routes`)."""
    gradio.routes.StateHolder = VisitorsFirstStateHolder
