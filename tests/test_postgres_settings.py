"""Where storage lives: the SQLite default on a Space's persistent disk, the database URL from the
environment and never in the settings' repr."""

from __future__ import annotations

import os

from handwriting.config import PROJECT_DIR, default_data_dir, settings


def test_the_sqlite_default_lives_on_persistent_storage_when_it_is_mounted(tmp_path, monkeypatch):
    mounted = tmp_path / "data"
    mounted.mkdir()
    assert default_data_dir(mounted) == mounted / "handwriting"
    assert default_data_dir(tmp_path / "not-mounted") == PROJECT_DIR / "data"
    if os.geteuid() != 0:  # root may write anywhere
        mounted.chmod(0o500)
        assert default_data_dir(mounted) == PROJECT_DIR / "data"
    monkeypatch.setenv("HANDWRITING_STORE_DIR", str(tmp_path / "chosen"))
    assert settings().data_dir == tmp_path / "chosen"  # the variable still wins


def test_the_database_url_is_read_and_never_shown(monkeypatch):
    monkeypatch.setenv("HANDWRITING_DATABASE_URL", " postgresql://app:hunter2@db:5432/hw ")
    cfg = settings()
    assert cfg.database_url == "postgresql://app:hunter2@db:5432/hw"
    assert "hunter2" not in repr(cfg)
    monkeypatch.delenv("HANDWRITING_DATABASE_URL")
    assert settings().database_url == ""
