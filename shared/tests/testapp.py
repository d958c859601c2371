"""A minimal service built only from `shared`, to test the platform mechanisms in isolation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI, Response, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.api import create_app
from shared.auth import Principal, Role, require_roles
from shared.consumer import EventConsumer, InboxMixin, PermanentError, handles
from shared.db import UUIDString, service_metadata
from shared.events import CloudEvent, EventData, EventType
from shared.kafka import dlq_topic
from shared.outbox import OutboxMixin, record_event
from shared.problems import NotFound
from shared.runtime import Runtime, SessionDep
from shared.settings import ServiceSettings


class Base(DeclarativeBase):
    metadata = service_metadata()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    area: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer)


class Applied(Base):
    """What the consumer applied: one row per applied event, to count effects."""

    __tablename__ = "applied"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str] = mapped_column(String(36))
    area: Mapped[str] = mapped_column(String(10))


class NoteRecorded(EventData):
    note_id: uuid.UUID
    area: str
    count: int


class NoteServiceSettings(ServiceSettings):
    service_name: str = "testsvc"
    topic: str = "test.v1"


def note_type(topic: str) -> EventType[NoteRecorded]:
    return EventType("nl.dichtdekloof.test.note-recorded.v1", topic, NoteRecorded, "test")


class NoteCreate(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    id: uuid.UUID
    area: str = Field(pattern=r"^BU[0-9]{8}$")
    count: int = Field(ge=0)
    label: str = Field(max_length=20)


#: Counts the handler fails on every attempt; a test "fixes the cause" by emptying it.
UNLUCKY: set[int] = {13}


async def apply_note(session: AsyncSession, event: CloudEvent, data: NoteRecorded) -> None:
    if data.count == 666:
        raise PermanentError("the number of the beast is refused")
    if data.count in UNLUCKY:
        raise RuntimeError("unlucky: fails every time")
    session.add(Applied(note_id=str(data.note_id), area=data.area))


def build(settings: NoteServiceSettings) -> FastAPI:
    router = APIRouter()
    event_type = note_type(settings.topic)

    @router.post("/notes", status_code=status.HTTP_201_CREATED)
    async def create_note(
        body: NoteCreate, session: SessionDep, response: Response,
        principal: Principal = require_roles(Role.FIELD_WORKER),
    ) -> dict[str, str]:
        """Create a note (a retry with the same id is answered 200 and changes nothing)."""
        if await session.get(Note, body.id) is not None:
            response.status_code = status.HTTP_200_OK
            return {"id": str(body.id)}
        session.add(Note(id=body.id, area=body.area, count=body.count))
        record_event(session, Outbox, event_type,
                     NoteRecorded(note_id=body.id, area=body.area, count=body.count),
                     key=body.area, source=settings.cloudevents_source())
        return {"id": str(body.id)}

    @router.get("/notes/{note_id}")
    async def read_note(
        note_id: uuid.UUID, session: SessionDep,
        principal: Principal = require_roles(Role.FIELD_WORKER),
    ) -> dict[str, str | int]:
        """One note (a route with a path parameter, for tests of route templates)."""
        note = await session.get(Note, note_id)
        if note is None:
            raise NotFound("no such note")
        return {"id": str(note.id), "area": note.area, "count": note.count}

    @router.get("/applied-count")
    async def applied_count(
        session: SessionDep, principal: Principal = require_roles(Role.ADMIN)
    ) -> dict[str, int]:
        """How many effects the consumer applied."""
        n = await session.scalar(select(func.count()).select_from(Applied))
        return {"count": int(n or 0)}

    def consumers(rt: Runtime) -> list[EventConsumer]:
        return [EventConsumer(f"testsvc-{settings.topic}", [settings.topic],
                              [handles(event_type, apply_note)], settings, rt.sessions, Inbox,
                              rt.producer)]

    return create_app(
        settings, title="test", description="test", routers=[router],
        runtime=lambda: Runtime(settings, outbox=Outbox,
                                topics=[settings.topic, dlq_topic(settings.topic)],
                                consumer_factory=consumers),
    )
