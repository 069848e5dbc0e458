"""Opening the state database, migrated to the newest schema first.

SQLite in the data directory by default (WAL, so the server and the CLI can both write); a PostgreSQL
URL works the same way when the project scales out.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = str(Path(__file__).with_name("migrations"))


# Pages the write-ahead log may hold before a checkpoint copies them into the database (SQLite's default
# is 1,000, 4 MB). A streamed batch's alerts (a page each: they carry their events) filled that at almost
# every commit, so nearly every commit also checkpointed, with two fsyncs: at 200,000 streamed events
# and 112,593 alerts, storing them took 10.2 s at 1,000 pages and 7.6 s at 10,000 (a 40 MB log).
WAL_CHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


def open_state(url: str) -> Engine:
    """An engine on the state database, upgraded to the newest migration."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.begin() as connection:
        if MigrationContext.configure(connection).get_current_revision() != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return engine
