"""CPU of the indicators' consumer per transaction of recorded signals, on SQLite:
`python -m services.indicators.bench_consumer`.

What the national intake costs the service's event loop, without the broker: the consumer's
batch path (`EventConsumer.apply_together`) on transactions of APPLY_SLICE new signals, each
to a buurt of its own, in a database of its own under a temporary folder.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from aiokafka.structs import ConsumerRecord

from services.indicators.cellkey import record_keys
from services.indicators.models import Base, Inbox
from services.indicators.settings import Settings
from services.indicators.stream.handlers import ROUTES
from shared.consumer import APPLY_SLICE, EventConsumer
from shared.contracts.signals import SIGNAL_RECORDED, SignalRecorded
from shared.db import create_engine, sessionmaker
from shared.events import CloudEvent

WARM_UP, MEASURED = 10, 50  # transactions
OBSERVED = datetime(2026, 11, 2, 10, tzinfo=UTC)


def _transaction(rng: random.Random, first_offset: int) -> list[ConsumerRecord[bytes, bytes]]:
    records = []
    for i in range(APPLY_SLICE):
        area = f"BU{rng.randint(1000, 9999)}{rng.randint(0, 9999):04d}"
        signal = SignalRecorded(
            signal_id=uuid.UUID(int=rng.getrandbits(128)), category="rent-arrears",
            severity="low", area_code=area, observed_at=OBSERVED, recorded_at=OBSERVED,
            organisation="demo-corp-a", household_stats_pseudonym=f"hh-{rng.getrandbits(64)}")
        event = CloudEvent.new("urn:bench:signals", SIGNAL_RECORDED.type, signal)
        records.append(ConsumerRecord("signals.v1", 0, first_offset + i, 0, 0, area.encode(),
                                      event.value(), None, 0, 0, event.headers()))
    return records


async def measure(folder: Path) -> list[float]:
    """CPU seconds of each measured transaction."""
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'indicators.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = sessionmaker(engine)
        sessions.configure(info={"record_keys": record_keys("A" * 64, "")})
        consumer = EventConsumer("bench", ["signals.v1"], ROUTES, Settings(), sessions, Inbox,
                                 None)  # type: ignore[arg-type]  # no dead letters here
        rng = random.Random(7)  # noqa: S311 (synthetic data, not security)
        batches = [_transaction(rng, n * APPLY_SLICE) for n in range(WARM_UP + MEASURED)]
        costs = []
        for n, batch in enumerate(batches):
            started = time.process_time()
            if not await consumer.apply_together(batch):
                raise RuntimeError("a transaction of new signals was not applied together")
            if n >= WARM_UP:
                costs.append(time.process_time() - started)
        return costs
    finally:
        await engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        costs = asyncio.run(measure(Path(folder)))
    per_event = median(costs) / APPLY_SLICE
    print(f"{MEASURED} transactions of {APPLY_SLICE} signals: median "
          f"{median(costs) * 1000:.1f} ms CPU, {per_event * 1000:.2f} ms per signal")
    print(f"seconds={median(costs)}")  # read by `make bench`


if __name__ == "__main__":
    main()
