"""The state database (dead letters now; alerts, incidents and executions later): SQLAlchemy 2 + Alembic."""

from reynard.state.db import open_state

__all__ = ["open_state"]
