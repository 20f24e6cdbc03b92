"""The game's rules: its modes, limits and scoring, and the checks on what a player sends.

A mode is the recognition task it plays ("digits", "letters", "all"). A right answer earns BASE points,
a speed bonus and a confidence bonus (the model's probability for the target), multiplied by the streak;
a wrong answer or a skip earns nothing and breaks the streak.

The high-score table is for people drawing. Pace alone cannot tell a script from the quickest people:
by published reaction and handwriting speeds (benchmarks/game_pace.py puts them on the page) they answer
about as soon as MIN_ANSWER_S allows. What people cannot do is keep the same time from one character to
the next: a round whose scoring answer times vary less than MIN_SPREAD is held back from the table (the
player still sees the score, and why), judged once it has JUDGED_FROM scoring answers.
"""

from __future__ import annotations

import math
import statistics
import unicodedata

from handwriting.tasks import TASKS, Task, get_task
from handwriting.text import shorten

MODE_ALIASES = {"both": "all"}  # what the API called "all" before; still accepted
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
JUDGED_FROM = 20  # scoring answers before a round's evenness is judged for the table
MIN_SPREAD = 0.08  # answer times varying less than this (standard deviation over mean) are no person's

BASE = 10  # points for a right answer
SPEED_BONUS = 10  # extra points for an answer within FAST_S, falling linearly to 0 at SLOW_S
FAST_S, SLOW_S = 1.5, 8.0
CONFIDENCE_BONUS = 10  # times the model's probability for the target
STREAK_STEP, STREAK_MAX = 0.1, 2.0  # each right answer in a row adds 10% to the next ones, up to x2


class GameError(ValueError):
    """A game request that cannot be done as sent; the message is for the player."""


class RoundNotFoundError(GameError):
    """No round has this id (never started, mistyped, or forgotten long after it ended)."""


class RoundOverError(GameError):
    """The round's time is up: nothing more can be played in it."""


class ModeUnavailableError(GameError):
    """The mode's model is not available (yet)."""


def modes() -> tuple[str, ...]:
    """The game's modes: a mode plays the registered recognition task of the same name."""
    return tuple(TASKS)


def canonical_mode(mode) -> str:
    """The mode (the recognition task it plays) named by `mode`; GameError for an unknown one."""
    mode = MODE_ALIASES.get(mode, mode) if isinstance(mode, str) else mode
    if not isinstance(mode, str) or mode not in TASKS:
        raise GameError(f"Unknown game mode {shorten(mode)!r}: choose one of {', '.join(TASKS)}.")
    return mode


def task_of(mode: str) -> Task:
    return get_task(canonical_mode(mode))


def unavailable_reason(mode: str) -> str | None:
    """None if the mode can be played now, else why not (for the player). Loads no model."""
    from handwriting.models import available

    task = task_of(mode)
    if not available(task):
        return f"{task.title} cannot be played yet: the model for it is not ready. Play digits meanwhile."
    return None


def available_modes() -> list[str]:
    """The modes whose model can be served now."""
    return [mode for mode in modes() if unavailable_reason(mode) is None]


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


def held_back_reason(seconds: list[float]) -> str | None:
    """Why a round whose scoring answers took `seconds` each (target shown -> drawing arrived) stays off
    the high-score table, for the player; None when a person could have played it."""
    if len(seconds) < JUDGED_FROM:
        return None
    mean = statistics.fmean(seconds)
    spread = statistics.pstdev(seconds) / mean if mean > 0 else 0.0
    if spread < MIN_SPREAD:
        return (f"its {len(seconds)} scoring answers were timed evenly to within {spread:.1%} ({mean:.2f} s each "
                f"on average): people vary more than {MIN_SPREAD:.0%} from one character to the next")
    return None
