"""The drawing game: the app names a character, the player draws it, the model judges; fast and right scores.

Pure Python (no Gradio), so every rule is unit-testable with a fake clock and a fake recogniser:

- a round: a mode (digits, letters or both), a length, an optional player name and an opt-in for keeping
  the drawings; the server picks each target and measures time itself (monotonic clock, from the moment
  a target is handed out to the moment its drawing arrives), so a client cannot fake its speed;
- scoring: a right answer earns BASE points, a speed bonus and a confidence bonus (the model's probability
  for the target), multiplied by the streak; a wrong answer or a skip earns nothing and breaks the streak.
  A look-alike of the target (o for O, 0 for O in "both") counts as right: no drawing can tell them apart;
- rounds live in memory keyed by an unguessable id (`secrets.token_urlsafe`): the page keeps its id in the
  session's state, API callers get it back from `start`; without the id nobody reads or plays a round.
  Rounds are forgotten a while after their deadline. Only rounds in play count against the caps: at most
  MAX_ROUNDS in all and `rounds_per_client` per client address, so one script cannot lock others out;
- a script cannot farm points: a right answer sooner than MIN_ANSWER_S after its target appeared (no one
  reads and draws a character that fast) or a drawing the round has already seen scores nothing;
- the high-score table is one more table in the feedback SQLite file (`HighScores`), created idempotently
  through the feedback store's own connection and locking. It keeps the best KEEP_SCORES rounds per mode
  and source; rounds started through the API are marked and shown apart from the page's table.

Each drawing is a labelled sample (the target is known): with the player's opt-in, `Game` hands it to a
`keep` callable (the app passes the feedback recorder, source "game").
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from handwriting.labels import labels_for, lookalikes_of
from handwriting.text import shorten

log = logging.getLogger("handwriting.game")

MODES = {"digits": "digits", "letters": "letters", "both": "all"}  # game mode -> recognition task
MODE_TITLES = {"digits": "Digits", "letters": "Letters", "both": "Digits and letters"}
ROUND_LENGTHS = (30, 60, 90)  # what the page offers, in seconds
MIN_SECONDS, MAX_SECONDS = 5, 300  # what the API accepts
MAX_NAME = 24  # characters of a player's name
GRACE_S = 0.5  # a drawing sent in the round's last instant may arrive this late
KEEP_S = 15 * 60  # a round is forgotten this long after its deadline
MAX_ROUNDS = 5_000  # rounds in play at once (memory bound against a flood of starts)
MAX_KEPT = 20_000  # rounds held in all, in play or over (the oldest finished are forgotten first)
ROUNDS_PER_CLIENT = 10  # rounds in play at once from one client address (a classroom behind one NAT: raise it)
MIN_ANSWER_S = 0.8  # a right answer sooner than this after its target appeared is not a person drawing
LIVE_CONFIDENCE = 0.6  # judged live, a drawing counts once the target (with its look-alikes) is this probable
REPEAT_DIFFERENCE = 0.02  # mean absolute difference (0..1) below which two 28x28 drawings are the same image
SOURCES = ("page", "api")  # where a round was started: the Game tab, or the /game_* API
KEEP_SCORES = 100  # high-score rows kept per mode and source

BASE = 10  # points for a right answer
SPEED_BONUS = 10  # extra points for an answer within FAST_S, falling linearly to 0 at SLOW_S
FAST_S, SLOW_S = 1.5, 8.0
CONFIDENCE_BONUS = 10  # times the model's probability for the target
STREAK_STEP, STREAK_MAX = 0.1, 2.0  # each right answer in a row adds 10% to the next ones, up to x2

Prepare = Callable[[object], object]  # drawing -> model input (the 28x28 array; tests pass fakes)
Recognise = Callable[[object, str], dict]  # (model input, task) -> {label: probability}
Keep = Callable[[object, str, str, str, float], str]  # (image, task, predicted, target, confidence) -> record id


class GameError(ValueError):
    """A game request that cannot be done as sent; the message is for the player."""


class RoundNotFoundError(GameError):
    """No round has this id (never started, mistyped, or forgotten long after it ended)."""


class RoundOverError(GameError):
    """The round's time is up: nothing more can be played in it."""


class ModeUnavailableError(GameError):
    """The mode's model is not available (yet)."""


# ---------------------------------------------------------------------------------------------------
# Rules


def task_of(mode: str) -> str:
    """The recognition task a mode plays; GameError for an unknown mode."""
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise GameError(f"Unknown game mode {shorten(mode)!r}: choose one of {', '.join(MODES)}.") from None


def unavailable_reason(mode: str) -> str | None:
    """None if the mode can be played now, else why not (for the player). Loads no model."""
    from handwriting.store import ModelUnavailableError, resolve_model

    try:
        resolve_model(task_of(mode))
    except ModelUnavailableError:
        return f"{MODE_TITLES[mode]} cannot be played yet: the model for it is not ready. Play digits meanwhile."
    return None


def available_modes() -> list[str]:
    """The modes whose model can be served now."""
    return [mode for mode in MODES if unavailable_reason(mode) is None]


def clean_name(name) -> str:
    """A player's name as stored: control characters dropped, spaces collapsed, at most MAX_NAME characters.

    Markup is kept as text (a name is data); whoever shows it escapes it."""
    if name is not None and not isinstance(name, str):
        raise GameError(f"The name must be text, not {type(name).__name__}.")
    text = name or ""
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if len(text) > MAX_NAME:
        raise GameError(f"The name is too long ({len(text):,} characters): at most {MAX_NAME} are allowed.")
    return text


def check_seconds(seconds) -> int:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise GameError(f"The round length must be a number of seconds, not {shorten(seconds)!r}.") from None
    if not math.isfinite(value) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise GameError(f"The round length must be between {MIN_SECONDS} and {MAX_SECONDS} seconds.")
    return int(round(value))


def points_for(seconds: float, confidence: float, streak: int) -> int:
    """Points for a right answer drawn in `seconds`, the model `confidence` sure, as the `streak`-th in a row."""
    speed = SPEED_BONUS * min(1.0, max(0.0, (SLOW_S - seconds) / (SLOW_S - FAST_S)))
    multiplier = min(STREAK_MAX, 1 + STREAK_STEP * max(0, streak - 1))
    return int(round((BASE + speed + CONFIDENCE_BONUS * min(1.0, max(0.0, confidence))) * multiplier))


# ---------------------------------------------------------------------------------------------------
# A round


@dataclass
class Attempt:
    """One target: drawn (right or wrong) or skipped."""

    target: str
    predicted: str | None  # None: skipped
    right: bool  # what the model saw is the target or one of its look-alikes
    confidence: float  # the model's probability for the target (and its look-alikes)
    predicted_confidence: float  # ... and for what it saw
    seconds: float  # from the target being shown to the drawing arriving
    points: int
    image: np.ndarray | None = None  # the 28x28 model input of a wrong drawing (white on black), for the summary
    stored_id: str | None = None  # the feedback record of a kept drawing
    unscored: str | None = None  # why a right answer scored nothing: "too fast" or "repeat"

    @property
    def skipped(self) -> bool:
        return self.predicted is None

    def verdict(self) -> dict:
        return {"target": self.target, "predicted": self.predicted, "right": self.right, "skipped": self.skipped,
                "confidence": round(self.confidence, 4), "predicted_confidence": round(self.predicted_confidence, 4),
                "seconds": round(self.seconds, 2), "points": self.points, "stored_id": self.stored_id,
                "unscored": self.unscored}


@dataclass
class Round:
    id: str
    mode: str
    seconds: int
    name: str
    opt_in: bool
    started: float  # monotonic
    deadline: float  # monotonic
    deadline_unix: float
    target: str
    target_since: float  # monotonic
    source: str = "api"  # one of SOURCES
    client: str = ""  # the address it was started from (for the per-client cap)
    score: int = 0
    streak: int = 0
    best_streak: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    high_score_rank: int | None = None
    seen: list = field(default_factory=list, repr=False)  # the round's drawings as model inputs, for repeats
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def task(self) -> str:
        return MODES[self.mode]

    def remaining(self, now: float) -> float:
        return max(0.0, self.deadline - now)

    def in_play(self, now: float) -> bool:
        return not self.finished and now <= self.deadline + GRACE_S

    @property
    def drawn(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.skipped]

    @property
    def right(self) -> int:
        return sum(a.right for a in self.attempts)

    @property
    def misses(self) -> list[Attempt]:
        return [a for a in self.drawn if not a.right]

    def state(self, now: float) -> dict:
        """What a player may know of the round now."""
        return {
            "round_id": self.id, "mode": self.mode, "name": self.name, "opt_in": self.opt_in, "source": self.source,
            "seconds": self.seconds, "remaining": round(self.remaining(now), 2), "deadline_unix": self.deadline_unix,
            "over": self.finished, "target": None if self.finished else self.target,
            "score": self.score, "streak": self.streak, "best_streak": self.best_streak,
            "right": self.right, "drawn": len(self.drawn), "skipped": len(self.attempts) - len(self.drawn),
        }

    def summary(self) -> dict:
        """The end-of-round report: totals, and every drawing the model got wrong with what it saw."""
        right_times = [a.seconds for a in self.attempts if a.right]
        return {
            "score": self.score, "right": self.right, "drawn": len(self.drawn),
            "skipped": len(self.attempts) - len(self.drawn),
            "accuracy": round(self.right / len(self.drawn), 4) if self.drawn else None,
            "best_streak": self.best_streak,
            "mean_seconds_right": round(sum(right_times) / len(right_times), 2) if right_times else None,
            "kept_for_training": sum(a.stored_id is not None for a in self.attempts),
            "high_score_rank": self.high_score_rank,
            "misses": [{"target": a.target, "predicted": a.predicted, "confidence": round(a.confidence, 4),
                        "predicted_confidence": round(a.predicted_confidence, 4)} for a in self.misses],
        }


def _default_prepare(image) -> np.ndarray:
    from handwriting.preprocessing import to_model_input

    return to_model_input(image)


def _default_recognise(x, task: str) -> dict:
    from handwriting.recognizer import get_recognizer

    recognizer = get_recognizer(task)
    return dict(zip(recognizer.labels, map(float, recognizer.probabilities(x))))


def _is_repeat(x, seen: list) -> bool:
    """Whether model input `x` is (nearly) one of the round's earlier drawings: a resent image, not a
    new drawing. Two drawings by hand never come this close."""
    if not isinstance(x, np.ndarray):
        return False
    return any(np.mean(np.abs(x - earlier)) < REPEAT_DIFFERENCE for earlier in seen)


class Game:
    """Every round being played in this process, and the high-score table they end in.

    `prepare(image)` makes the model input (default: the shared preprocessing) and `recognise(x, task)`
    judges it (default: the task's recognizer); `keep` stores an opted-in drawing as labelled feedback;
    `clock` is monotonic seconds and `wall` the Unix time (tests pass fakes); `rng` picks targets.
    """

    def __init__(self, scores: "HighScores | None" = None, *, prepare: Prepare = _default_prepare,
                 recognise: Recognise = _default_recognise, keep: Keep | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None, check_mode: Callable[[str], str | None] = unavailable_reason,
                 rounds_per_client: int = ROUNDS_PER_CLIENT, min_answer_s: float = MIN_ANSWER_S):
        self.scores = scores
        self.min_answer_s = min_answer_s
        self.prepare = prepare
        self.recognise = recognise
        self.rounds_per_client = rounds_per_client
        self.keep = keep
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.SystemRandom()
        self.check_mode = check_mode
        self._rounds: dict[str, Round] = {}
        self._lock = threading.Lock()

    # the rounds ------------------------------------------------------------------------------------

    def start(self, mode: str = "digits", seconds=60, name: str | None = "", opt_in: bool = False, *,
              source: str = "api", client: str = "") -> dict:
        """A new round; returns its state, with its id (the player's key to it) and first target.

        `opt_in` must be a real boolean (the string "false" is not consent); `client` is the caller's
        address, `source` "page" or "api"."""
        task_of(mode)
        seconds = check_seconds(seconds)
        name = clean_name(name)
        if not isinstance(opt_in, bool):
            raise GameError(f"opt_in must be true or false, not {shorten(opt_in)!r}.")
        if source not in SOURCES:
            raise ValueError(f"unknown round source {source!r}")
        reason = self.check_mode(mode)
        if reason:
            raise ModeUnavailableError(reason)
        now = self.clock()
        self.sweep(now)
        with self._lock:
            playing = [r for r in self._rounds.values() if r.in_play(now)]
            if len(playing) >= MAX_ROUNDS:
                raise GameError("Too many rounds are being played right now: please try again in a minute.")
            if sum(r.client == client for r in playing) >= self.rounds_per_client:
                raise GameError(f"You already have {self.rounds_per_client} rounds in play: end one (or let it "
                                "finish) before starting another.")
            rnd = Round(id=secrets.token_urlsafe(18), mode=mode, seconds=seconds, name=name, opt_in=opt_in,
                        started=now, deadline=now + seconds, deadline_unix=self.wall() + seconds,
                        target=self._pick(mode, None), target_since=now, source=source, client=client)
            self._rounds[rnd.id] = rnd
            self._forget_oldest_finished(now)
        return rnd.state(now)

    def submit(self, round_id: str, image, live: bool = False) -> dict:
        """Judge a drawing of the current target; returns the verdict and the round's new state.

        A blank or unreadable drawing raises the preprocessing's InvalidImageError and changes nothing
        (the target and its clock stay); a drawing after the deadline raises RoundOverError. `live`: the
        drawing is judged while it is being drawn (after each stroke); it counts, as a right answer, only
        once the model gives the target at least LIVE_CONFIDENCE; before that nothing changes and the
        verdict is None (the player draws on, or presses Submit for a verdict either way)."""
        rnd = self._get(round_id)
        with rnd.lock:
            now = self.clock()
            self._check_open(rnd, now)
            x = self.prepare(image)  # may raise for a blank canvas: nothing changes
            probabilities = self.recognise(x, rnd.task)
            target = rnd.target
            accepted = (target, *lookalikes_of(target))
            confidence = float(sum(probabilities.get(c, 0.0) for c in accepted))
            if live and confidence < LIVE_CONFIDENCE:
                attempt = None
            else:
                predicted = max(probabilities, key=probabilities.get)
                if live and predicted not in accepted:  # the look-alikes together outweigh any other answer
                    predicted = max(accepted, key=lambda c: probabilities.get(c, 0.0))
                attempt = Attempt(target=target, predicted=predicted, right=predicted in accepted,
                                  confidence=confidence, predicted_confidence=float(probabilities[predicted]),
                                  seconds=now - rnd.target_since, points=0)
                self._record(rnd, attempt, x)
        if attempt is None:
            return {"verdict": None, **self.status(round_id)}
        if rnd.opt_in and self.keep is not None:
            attempt.stored_id = self._keep(image, rnd.task, attempt.predicted, target, attempt.predicted_confidence)
        return {"verdict": attempt.verdict(), **self.status(round_id)}

    def _record(self, rnd: Round, attempt: Attempt, x) -> None:
        """Score a judged drawing and move to the next target (called with the round's lock held)."""
        if _is_repeat(x, rnd.seen):
            attempt.unscored = "repeat"
        elif attempt.seconds < self.min_answer_s:
            attempt.unscored = "too fast"
        if isinstance(x, np.ndarray):
            rnd.seen.append(x)
        if attempt.right and not attempt.unscored:
            rnd.streak += 1
            rnd.best_streak = max(rnd.best_streak, rnd.streak)
            attempt.points = points_for(attempt.seconds, attempt.confidence, rnd.streak)
            rnd.score += attempt.points
        elif not attempt.right:
            rnd.streak = 0
            attempt.image = _picture(x)
        rnd.attempts.append(attempt)
        self._next_target(rnd, self.clock())

    def skip(self, round_id: str) -> dict:
        """Give up on the current target: no points, the streak breaks, a new target."""
        rnd = self._get(round_id)
        with rnd.lock:
            now = self.clock()
            self._check_open(rnd, now)
            attempt = Attempt(target=rnd.target, predicted=None, right=False, confidence=0.0, predicted_confidence=0.0,
                              seconds=now - rnd.target_since, points=0)
            rnd.attempts.append(attempt)
            rnd.streak = 0
            self._next_target(rnd, now)
        return {"verdict": attempt.verdict(), **self.status(round_id)}

    def status(self, round_id: str) -> dict:
        """The round's state now; once it is over (time up or ended), with its summary."""
        rnd = self._get(round_id)
        with rnd.lock:
            now = self.clock()
            if not rnd.finished and now >= rnd.deadline:
                self._finish(rnd)
            state = rnd.state(now)
            if rnd.finished:
                state["summary"] = rnd.summary()
            return state

    def end(self, round_id: str) -> dict:
        """Stop the round now (the player is done early); returns its final state and summary."""
        rnd = self._get(round_id)
        with rnd.lock:
            if not rnd.finished:
                rnd.deadline = min(rnd.deadline, self.clock())
                self._finish(rnd)
        return self.status(round_id)

    def round(self, round_id: str) -> Round:
        """The round itself (the page reads its misses' images); RoundNotFoundError if unknown."""
        return self._get(round_id)

    def sweep(self, now: float | None = None) -> int:
        """Finish rounds whose time is up and forget those long over; returns how many were forgotten."""
        now = self.clock() if now is None else now
        with self._lock:
            rounds = list(self._rounds.values())
        forgotten = 0
        for rnd in rounds:
            if now >= rnd.deadline and not rnd.finished:
                with rnd.lock:
                    if not rnd.finished:
                        self._finish(rnd)
            if now >= rnd.deadline + KEEP_S:
                with self._lock:
                    forgotten += self._rounds.pop(rnd.id, None) is not None
        return forgotten

    def _forget_oldest_finished(self, now: float) -> None:
        """Called with the lock held: keep at most MAX_KEPT rounds, forgetting the longest-over first."""
        if len(self._rounds) <= MAX_KEPT:
            return
        over = sorted((r for r in self._rounds.values() if not r.in_play(now)), key=lambda r: r.deadline)
        for rnd in over[: len(self._rounds) - MAX_KEPT]:
            del self._rounds[rnd.id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._rounds)

    # internals -------------------------------------------------------------------------------------

    def _get(self, round_id) -> Round:
        with self._lock:
            rnd = self._rounds.get(round_id) if isinstance(round_id, str) else None
        if rnd is None:
            raise RoundNotFoundError("No such round: start a new one (rounds are forgotten a while after they end).")
        return rnd

    def _check_open(self, rnd: Round, now: float) -> None:
        if rnd.finished or now > rnd.deadline + GRACE_S:
            if not rnd.finished:
                self._finish(rnd)
            raise RoundOverError(f"The round is over (final score {rnd.score}): start a new one to play again.")

    def _pick(self, mode: str, previous: str | None) -> str:
        labels = [label for label in labels_for(MODES[mode]) if label != previous]
        return self.rng.choice(labels)

    def _next_target(self, rnd: Round, now: float) -> None:
        rnd.target = self._pick(rnd.mode, rnd.target)
        rnd.target_since = now

    def _finish(self, rnd: Round) -> None:
        """Close the round (called with its lock held) and enter a scoring round in the high-score table."""
        rnd.finished = True
        if self.scores is not None and rnd.score > 0:
            try:
                rnd.high_score_rank = self.scores.add(rnd)
            except Exception as exc:  # the table is a bonus: a storage problem must not break the game
                log.error("the high score of round %s could not be stored: %s", rnd.id[:6], exc)

    def _keep(self, image, task: str, predicted: str, target: str, confidence: float) -> str | None:
        try:
            return self.keep(image, task, predicted, target, confidence)
        except (ValueError, RuntimeError, OSError) as exc:  # keeping is a bonus: the game goes on
            log.error("a game drawing could not be kept: %s", exc)
            return None


def _picture(x) -> np.ndarray | None:
    """The 28x28 image the model saw (white on black, uint8), for the summary's failed drawings."""
    if not isinstance(x, np.ndarray):
        return None
    return np.round(x.reshape(28, 28) * 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# The high-score table, in the feedback database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS game_scores (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        mode TEXT NOT NULL,
        name TEXT NOT NULL,
        score INTEGER NOT NULL,
        right INTEGER NOT NULL,
        drawn INTEGER NOT NULL,
        best_streak INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT 'page'
    )""",
    "CREATE INDEX IF NOT EXISTS game_scores_by_mode ON game_scores (mode, score DESC, created_at)",
)
# Tables made before rounds were marked by source: their rows are of unknown origin (scripts included),
# so they are marked "legacy" and kept off the page's table.
_ADD_SOURCE = "ALTER TABLE game_scores ADD COLUMN source TEXT NOT NULL DEFAULT 'legacy'"


@dataclass(frozen=True)
class HighScore:
    rank: int
    name: str  # as typed (cleaned); escape it before showing it in a page
    score: int
    right: int
    drawn: int
    best_streak: int
    seconds: int
    created_at: str

    def as_dict(self) -> dict:
        return {"rank": self.rank, "name": self.name, "score": self.score, "right": self.right, "drawn": self.drawn,
                "best_streak": self.best_streak, "seconds": self.seconds, "time_utc": self.created_at}


class HighScores:
    """The best rounds of each mode: a `game_scores` table in the feedback store's SQLite file.

    Uses the store's connection and transaction (one lock, WAL, busy timeout), so scores and feedback
    never contend through two connections; the table is created on first use. `shown` are the round
    sources the table lists (the page's rounds; API rounds too when the operator allows them)."""

    def __init__(self, store, shown: tuple[str, ...] = ("page",)):
        self.store = store
        self.shown = tuple(shown)
        self._ready = False

    def _transaction(self):
        if not self._ready:
            with self.store.transaction() as conn:
                existed = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'game_scores'").fetchone()
                if existed and "source" not in {row[1] for row in conn.execute("PRAGMA table_info(game_scores)")}:
                    conn.execute(_ADD_SOURCE)
                for statement in _SCHEMA:
                    conn.execute(statement)
            self._ready = True
        return self.store.transaction()

    def add(self, rnd: Round) -> int | None:
        """Enter a finished round; returns its rank in its mode's table (1 = best), None if the table
        does not show its source. Only the best KEEP_SCORES of each mode and source are kept."""
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO game_scores (id, created_at, mode, name, score, right, drawn, best_streak, seconds, "
                "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, created, rnd.mode, rnd.name, rnd.score, rnd.right, len(rnd.drawn),
                 rnd.best_streak, rnd.seconds, rnd.source),
            )
            conn.execute(
                "DELETE FROM game_scores WHERE mode = ? AND source = ? AND rowid NOT IN (SELECT rowid FROM "
                "game_scores WHERE mode = ? AND source = ? ORDER BY score DESC, created_at, rowid LIMIT ?)",
                (rnd.mode, rnd.source, rnd.mode, rnd.source, KEEP_SCORES),
            )
            if rnd.source not in self.shown:
                return None
            better = conn.execute(
                f"SELECT COUNT(*) FROM game_scores WHERE mode = ? AND score > ? AND source IN ({self._marks})",
                (rnd.mode, rnd.score, *self.shown)).fetchone()[0]
        return better + 1

    @property
    def _marks(self) -> str:
        return ", ".join("?" * len(self.shown))

    def top(self, mode: str, limit: int = 10) -> list[HighScore]:
        """The mode's best rounds among the shown sources, best first (ties: the earlier round first)."""
        task_of(mode)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT name, score, right, drawn, best_streak, seconds, created_at FROM game_scores "
                f"WHERE mode = ? AND source IN ({self._marks}) ORDER BY score DESC, created_at, rowid LIMIT ?",
                (mode, *self.shown, int(limit)),
            ).fetchall()
        return [HighScore(i + 1, *row) for i, row in enumerate(rows)]
