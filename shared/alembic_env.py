"""What every service's migrations/env.py runs: online migrations over the async engine."""

from __future__ import annotations

import asyncio
import concurrent.futures

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.db import engine_for
from shared.settings import ServiceSettings


def run_migrations(target_metadata: MetaData) -> None:
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    assert url, "no database url given to the migrations"
    render_as_batch = url.startswith("sqlite")  # SQLite alters tables by copying them

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                          render_as_batch=render_as_batch)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=render_as_batch, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        # The service's own TLS settings (tools.migrate passes them), else the platform's.
        engine = engine_for(config.attributes.get("settings") or ServiceSettings(), url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run())
        return
    # Called from async code (tests, start-up): migrate on a thread with its own loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
