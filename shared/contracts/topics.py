"""The platform's topics: who publishes each, who reads it, and its shape on the broker.

Part of the contract between the services (a reader relies on a topic's key and order as
much as on its event types), and the one place the topics are listed: the broker's topic
creation, the AsyncAPI document and the tools' registry of services all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.contracts import areas, funding, indicators, signals


@dataclass(frozen=True)
class Topic:
    name: str
    sender: str
    receivers: tuple[str, ...] = ()
    #: None: the deployment's `kafka_topic_partitions`.
    partitions: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)
    #: A `<topic>.dlq` beside it, for what its consumer groups cannot apply.
    dead_letters: bool = True
    #: How the topic is used where it is not an outbox-fed stream for consumer groups.
    description: str = ""
    send: str = ""
    receive: str = ""


TOPICS: tuple[Topic, ...] = (
    Topic(signals.TOPIC, sender="signals", receivers=("indicators",)),
    Topic(areas.TOPIC, sender="indicators", receivers=("funding",)),
    Topic(indicators.TOPIC, sender="indicators", receivers=("funding",)),
    Topic(funding.TOPIC, sender="funding"),
    # One ordered series under one key, and only the latest matters, kept for ever
    # (compaction keeps a key's last record).
    Topic(
        signals.ACCESS_LOG_CHECKPOINT_TOPIC, sender="signals", receivers=("signals",),
        partitions=1, configs={"cleanup.policy": "compact"}, dead_letters=False,
        description="Topic access-log-checkpoints.v1: one partition, compacted, no dead "
                    "letters. Only signals may write it (Kafka ACL).",
        send="signals publishes its access log's head directly (not through its outbox, "
             "which lives in the database the checkpoint guards), every "
             "DDK_SIGNALS_ACCESS_LOG_CHECKPOINT_INTERVAL_S",
        receive="signals reads the latest checkpoint when a privacy officer verifies the "
                "access log (no consumer group)",
    ),
)

BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}
