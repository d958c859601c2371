"""Replay dead letters: `python -m tools.replay signals.v1` (after the cause is fixed).

Reads `<topic>.dlq` from where the last replay stopped (consumer group `dlq-replay.<topic>`),
puts each message back on `<topic>` with its original key and headers (the dlq_* error
headers removed), and commits only after the broker acknowledged. Consumers' inboxes make a
replay safe: what was applied before is not applied again.
"""

from __future__ import annotations

import argparse
import asyncio

from shared.kafka import dlq_topic, new_consumer, new_producer
from shared.settings import ServiceSettings
from tools.registry import all_topics


async def replay(topic: str, settings: ServiceSettings, idle_timeout_s: float = 3.0) -> int:
    consumer = new_consumer(
        settings, dlq_topic(topic),
        group_id=f"dlq-replay.{topic}", enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )
    producer = new_producer(settings)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while loop.time() - idle_since < idle_timeout_s:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if not batch:
                continue
            idle_since = loop.time()
            for messages in batch.values():
                for m in messages:
                    headers = [(k, v) for k, v in (m.headers or ()) if not k.startswith("dlq_")]
                    await producer.send_and_wait(topic, m.value, key=m.key, headers=headers)
                    replayed += 1
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("topic", choices=[t for t in all_topics() if dlq_topic(t) in all_topics()],
                        help="the original topic, e.g. signals.v1")
    args = parser.parse_args(argv)
    count = asyncio.run(replay(args.topic, ServiceSettings()))
    print(f"replayed {count} message(s) from {dlq_topic(args.topic)} to {args.topic}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
