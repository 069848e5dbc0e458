"""Alembic environment: migrations run on the connection `open_state` passes in."""

from alembic import context

from reynard.state.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
