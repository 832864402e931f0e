"""Run Alembic migrations: the only way chatdesk's schema is created or changed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from chatdesk.settings import Settings

_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(settings: Settings) -> Config:
    config = Config(str(_INI))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # "heads": features may add migrations on branches from one base; all are applied.
    command.upgrade(alembic_config(settings), "heads")
