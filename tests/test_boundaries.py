"""Structural rules: settings are read only where they should be; ``sync/`` stays pure."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from backend.settings import Settings, SettingsError


def test_settings_come_from_zsjg_variables() -> None:
    s = Settings.from_env(
        {
            "ZSJG_DEMO_MODE": "true",
            "ZSJG_ACCESS_TOKEN_TTL": "300",
            "ZSJG_DATA_DIR": "/srv/zsjg",
            "HOME": "/x",
        }
    )
    assert (
        s.demo_mode is True
        and s.access_token_ttl == timedelta(minutes=5)
        and s.data_dir == Path("/srv/zsjg")
    )
    assert s.effective_database_url == "sqlite+aiosqlite:////srv/zsjg/zsjg.sqlite3"
    assert Settings.from_env(
        {"ZSJG_DATABASE_URL": "postgresql+asyncpg://h/db"}
    ).effective_database_url.startswith("postgresql")


def test_a_bad_setting_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="demo_mode"):
        Settings.from_env({"ZSJG_DEMO_MODE": "perhaps"})


def test_importing_the_app_reads_no_settings() -> None:
    code = (
        "import os; os.environ['ZSJG_DEMO_MODE'] = 'perhaps'\n"
        "import backend.app, backend.cli  # must not read or validate the environment\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_sync_imports_neither_litestar_nor_sqlalchemy() -> None:
    code = (
        "import sys, pkgutil, importlib, sync\n"
        "for m in pkgutil.walk_packages(sync.__path__, 'sync.'): importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'litestar', 'sqlalchemy', 'advanced_alchemy', 'backend'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
