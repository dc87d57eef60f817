"""Alembic environment: runs inside the Flask app so it uses the app's engine and metadata."""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from warehouse.services.partitions import autogenerate_filters

config = context.config
if config.config_file_name is not None and not logging.getLogger("udi").handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _target_metadata():
    # Importing the table modules registers every table on the shared MetaData.
    import scanning.tables  # noqa: F401
    from warehouse.tables import metadata

    return metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``flask db upgrade --sql``)."""
    context.configure(
        url=current_app.config["DATABASE_URL"],
        target_metadata=_target_metadata(),
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on the app's engine."""
    engine = current_app.extensions["udi_db"].engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=_target_metadata(),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            # The metadata describes partitioned tables, not their monthly partitions (0013).
            **autogenerate_filters(connection),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
