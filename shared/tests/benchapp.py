"""The test service as a uvicorn factory with its tables created (benchmarks only)."""

import sqlite3

from fastapi import FastAPI

from shared.tests import testapp


def app() -> FastAPI:
    settings = testapp.NoteServiceSettings()

    # uvicorn calls the factory inside its loop: create the tables synchronously.
    from sqlalchemy import create_engine as create_sync_engine

    path = settings.sqlalchemy_url().split("///", 1)[1]
    sqlite3.connect(path).close()
    testapp.Base.metadata.create_all(create_sync_engine(f"sqlite:///{path}"))
    return testapp.build(settings)
