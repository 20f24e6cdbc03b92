"""The PostgreSQL plumbing against a real throw-away server: the URL checks, the secret kept out of
messages, and the versioned migrations (each applied once, in order, even by replicas starting together)."""

from __future__ import annotations

import threading

import pytest

from handwriting.postgres import BadDatabaseUrl, Database, DatabaseUnavailable, check_url, is_database_url, safe_url, scrub
from postgres_server import PASSWORD


def test_urls_are_checked_and_shown_without_their_password():
    url = f"postgresql://app:{PASSWORD}@db.example:5433/feedback?sslmode=require"
    assert is_database_url(url) and is_database_url("postgres://h/db") and not is_database_url("sqlite:///x")
    assert safe_url(url) == "postgresql://app@db.example:5433/feedback"
    assert PASSWORD not in scrub(f"failed for {url} (password={PASSWORD})", url)
    for bad in ("mysql://u:p@h/db", "postgresql://u:p@h:99999/db", "postgresql://u:p@h/"):
        with pytest.raises(BadDatabaseUrl) as err:
            check_url(bad)
        assert "p@h" not in str(err.value)
    assert check_url(" postgresql://u:p@h/db ") == "postgresql://u:p@h/db"


def test_migrations_are_versioned_and_applied_once(database_url):
    db = Database(database_url)
    v1 = ["CREATE TABLE things (id INTEGER PRIMARY KEY)"]
    v2 = [*v1, "ALTER TABLE things ADD COLUMN name TEXT NOT NULL DEFAULT ''"]
    try:
        assert db.schema_version("things") == 0
        assert db.migrate("things", v1) == 0
        assert db.migrate("things", v1) == 1  # nothing to do: CREATE TABLE would fail if run again
        with db.transaction(("things", v2)) as conn:  # the next version, applied before the transaction
            conn.execute("INSERT INTO things (id, name) VALUES (1, 'one')")
        assert db.schema_version("things") == 2
        with pytest.raises(RuntimeError, match="newer than this app"):
            Database(database_url).migrate("things", v1)  # an older app on a newer database stops
    finally:
        db.close()


def test_replicas_starting_together_apply_each_migration_once(database_url):
    statements = ["CREATE TABLE applied (n INTEGER)", "INSERT INTO applied VALUES (2)", "INSERT INTO applied VALUES (3)"]
    dbs = [Database(database_url) for _ in range(6)]
    errors = []

    def start(db):
        try:
            db.migrate("race", statements)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        with dbs[0].connection() as conn:
            assert conn.execute("SELECT n FROM applied ORDER BY n").fetchall() == [(2,), (3,)]
    finally:
        for db in dbs:
            db.close()


def test_an_unreachable_database_is_a_clear_error_without_the_password(postgres_cluster):
    db = Database(postgres_cluster.url(password="wrong-" + PASSWORD), connect_timeout=2)
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            with db.connection() as conn:
                conn.execute("SELECT 1")
        assert "cannot be reached" in str(err.value) and PASSWORD not in str(err.value)
    finally:
        db.close()
