"""The high-score table on both backends: the same rules from one SQLite file and from the PostgreSQL
database replicas share, and the daily limit holding while "replicas" (separate pools) race."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from handwriting.game.high_scores import KEEP_SCORES, HighScores
from handwriting.postgres import Database

DAY = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)


@dataclass
class Round:
    name: str
    score: int
    client: str = ""
    mode: str = "digits"
    source: str = "page"
    right: int = 3
    drawn: list = field(default_factory=lambda: [1, 2, 3])
    best_streak: int = 2
    seconds: int = 60


@pytest.fixture(params=["sqlite", "postgres"])
def table(request, tmp_path):
    """A function making HighScores on one backend; every call is another process's view of one table."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else ""
    made = []

    def make(**kwargs):
        scores = HighScores(tmp_path, now=lambda: DAY, database_url=url, **kwargs)
        if url:  # its own pool, as another replica would have
            scores.backend.database = Database(url)
        made.append(scores)
        return scores

    yield make
    for scores in made:
        scores.close()
        if url:
            scores.backend.database.close()


def test_ranks_ties_and_sources(table):
    scores = table(shown=("page",))
    assert scores.add(Round("a", 50)).rank == 1
    assert scores.add(Round("b", 70)).rank == 1
    assert scores.add(Round("c", 50)).rank == 2  # a tie ranks after the better one, beside the earlier tie
    assert scores.add(Round("bot", 99, source="api")).rank is None  # kept apart from the page's table
    assert [(e.rank, e.name, e.score) for e in scores.top("digits")] == [(1, "b", 70), (2, "a", 50), (3, "c", 50)]
    assert scores.top("digits")[0].right == 3 and scores.top("letters") == []
    assert [e.name for e in table(shown=("page", "api")).top("digits")] == ["bot", "b", "a", "c"]


def test_only_the_best_rounds_are_kept(table):
    scores = table()
    for i in range(KEEP_SCORES + 5):
        scores.add(Round(f"p{i}", i))
    kept = scores.top("digits", limit=KEEP_SCORES + 10)
    assert len(kept) == KEEP_SCORES and kept[-1].score == 5


def test_one_address_keeps_its_best_round_of_the_day(table):
    scores = table(per_client=1)
    assert scores.add(Round("first", 40, client="10.0.0.1")).rank == 1
    held = scores.add(Round("worse", 30, client="10.0.0.1"))
    assert held.rank is None and "already has a round of 40 points" in held.held_back
    assert scores.add(Round("better", 60, client="10.0.0.1")).rank == 1
    assert scores.add(Round("other", 50, client="10.0.0.2")).rank == 2
    assert [e.name for e in scores.top("digits")] == ["better", "other"]


def test_replicas_racing_share_one_table_and_its_daily_limit(table):
    replicas = [table(per_client=1) for _ in range(6)]
    for r in replicas:
        r.top("digits")  # connected, the table made
    barrier = threading.Barrier(24)
    errors = []

    def play(i):
        try:
            barrier.wait()
            replicas[i % 6].add(Round(f"r{i}", 10 + i, client="10.0.0.7"))  # one address, 24 rounds at once
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tables = [[(e.name, e.score) for e in r.top("digits")] for r in replicas]
    assert all(t == [("r23", 33)] for t in tables)  # the address's best, once, on every replica
