"""The game's rounds: the app names a character, the player draws it, the model judges; fast and right scores.

Pure Python (no Gradio), so every rule is unit-testable with a fake clock and a fake recogniser:

- the server picks each target and measures time itself (monotonic clock, from the moment a target is
  handed out to the moment its drawing arrives), so a client cannot fake its speed; a look-alike of the
  target (o for O, 0 for O in "all") counts as right: no drawing can tell them apart;
- rounds live in memory keyed by an unguessable id (`secrets.token_urlsafe`): the page keeps its id in the
  session's state, API callers get it back from `start`; without the id nobody reads or plays a round.
  Rounds are forgotten a while after their deadline. Only rounds in play count against the caps: at most
  MAX_ROUNDS in all and `rounds_per_client` per client address, so one script cannot lock others out;
- a script cannot farm points: a right answer sooner than MIN_ANSWER_S after its target appeared (no one
  reads and draws a character that fast) or a drawing the round has already seen scores nothing; nor can
  it top the table: a round timed more evenly than people draw is held back from it (`held_back_reason`),
  and the table keeps the best round of each client address a day (`HighScores.per_client`).

Each drawing is a labelled sample (the target is known): with the player's opt-in, `Game` hands it to a
`keep` callable (the app stores it as feedback, source "game"). Finished rounds go to `HighScores`.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from typing import Callable

import numpy as np

from handwriting.game.high_scores import HighScores
from handwriting.game.round import Attempt, Round, picture_of
from handwriting.game.rules import (
    GRACE_S,
    KEEP_S,
    LIVE_CONFIDENCE,
    MAX_KEPT,
    MAX_ROUNDS,
    MIN_ANSWER_S,
    REPEAT_DIFFERENCE,
    ROUNDS_PER_CLIENT,
    SOURCES,
    GameError,
    ModeUnavailableError,
    RoundNotFoundError,
    RoundOverError,
    canonical_mode,
    check_seconds,
    clean_name,
    held_back_reason,
    points_for,
    task_of,
    unavailable_reason,
)
from handwriting.refusal import REFUSED
from handwriting.tasks import Task
from handwriting.text import shorten

log = logging.getLogger("handwriting.game")

Prepare = Callable[[object], object]  # drawing -> model input (the 28x28 array; tests pass fakes)
Recognise = Callable[[object, str], dict]  # (model input, task) -> {label: probability}
# (drawing, its model input, task, predicted, target, confidence) -> the stored feedback record's id
Keep = Callable[[object, object, str, str, str, float], str]


def _default_prepare(image) -> np.ndarray:
    from handwriting.preprocessing import to_model_input

    return to_model_input(image)


def _default_recognise(x, task: Task) -> dict:
    """{label: probability}, and "?" (with the model's confidence in it) when the model says the drawing is
    none of the task's characters."""
    from handwriting.models import load

    model = load(task)
    row = model.rows([x])[0]
    said = dict(zip(task.labels, map(float, model.real(row))))
    answer = model.answer(row)
    if answer.refused:
        said[REFUSED] = answer.none_confidence
    return said


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

    def __init__(self, scores: HighScores | None = None, *, prepare: Prepare = _default_prepare,
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
        mode = canonical_mode(mode)
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
            accepted = (target, *rnd.task.lookalikes_of(target))
            confidence = float(sum(probabilities.get(c, 0.0) for c in accepted))
            refused = REFUSED in probabilities  # the model says it is no character: never a right answer
            if live and (confidence < LIVE_CONFIDENCE or refused):
                attempt = None
            else:
                predicted = REFUSED if refused else max(probabilities, key=probabilities.get)
                if live and predicted not in accepted:  # the look-alikes together outweigh any other answer
                    predicted = max(accepted, key=lambda c: probabilities.get(c, 0.0))
                attempt = Attempt(target=target, predicted=predicted, right=predicted in accepted,
                                  confidence=confidence, predicted_confidence=float(probabilities[predicted]),
                                  seconds=now - rnd.target_since, points=0)
                self._record(rnd, attempt, x)
        if attempt is None:
            return {"verdict": None, **self.status(round_id)}
        if rnd.opt_in and self.keep is not None:
            attempt.stored_id = self._keep(image, x, rnd.task, attempt.predicted, target, attempt.predicted_confidence)
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
            attempt.image = picture_of(x)
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
        labels = [label for label in task_of(mode).labels if label != previous]
        return self.rng.choice(labels)

    def _next_target(self, rnd: Round, now: float) -> None:
        rnd.target = self._pick(rnd.mode, rnd.target)
        rnd.target_since = now

    def _finish(self, rnd: Round) -> None:
        """Close the round (called with its lock held) and enter a scoring round in the high-score table."""
        rnd.finished = True
        if self.scores is not None and rnd.score > 0:
            rnd.held_back = held_back_reason([a.seconds for a in rnd.attempts if a.points > 0])
            if rnd.held_back:
                log.info("round %s held back from the high scores: %s", rnd.id[:6], rnd.held_back)
                return
            try:
                rnd.high_score_rank, rnd.held_back = self.scores.add(rnd)
            except Exception as exc:  # the table is a bonus: a storage problem must not break the game
                log.error("the high score of round %s could not be stored: %s", rnd.id[:6], exc)

    def _keep(self, image, x, task: Task, predicted: str, target: str, confidence: float) -> str | None:
        try:
            return self.keep(image, x, task, predicted, target, confidence)
        except (ValueError, RuntimeError, OSError) as exc:  # keeping is a bonus: the game goes on
            log.error("a game drawing could not be kept: %s", exc)
            return None
