"""The event loop's lag on /metrics: how often something held a service's loop, and how long."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from shared.looplag import LoopLag
from shared.tests.conftest import running


def _sample(name: str, service: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": service, **labels}) or 0.0


async def test_a_loop_held_for_120_ms_is_recorded_as_held_that_long():
    lag = LoopLag("looplag-test-held", every_s=0.005)
    lag.start()
    try:
        await asyncio.sleep(0.05)
        before = _sample("event_loop_lag_seconds_count", "looplag-test-held")
        over_100 = before - _sample("event_loop_lag_seconds_bucket", "looplag-test-held",
                                    le="0.1")
        time.sleep(0.12)  # holds the loop, as a computation made at once would
        await asyncio.sleep(0.05)
        after = _sample("event_loop_lag_seconds_count", "looplag-test-held")
        assert after > before
        now_over_100 = after - _sample("event_loop_lag_seconds_bucket", "looplag-test-held",
                                       le="0.1")
        assert now_over_100 == over_100 + 1
        assert _sample("event_loop_lag_seconds_sum", "looplag-test-held") >= 0.1
    finally:
        lag.stop()
    stopped = _sample("event_loop_lag_seconds_count", "looplag-test-held")
    await asyncio.sleep(0.03)
    assert _sample("event_loop_lag_seconds_count", "looplag-test-held") == stopped


async def test_every_service_reports_its_loop_lag_on_metrics(testsvc_settings):
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False)
    async with running(settings) as client:
        await asyncio.sleep(0.05)
        text = (await client.get("/metrics")).text
    line = next(x for x in text.splitlines()
                if x.startswith("event_loop_lag_seconds_count")
                and f'service="{settings.service_name}"' in x)
    assert float(line.rsplit(" ", 1)[1]) >= 1
    # Stopped with the service.
    stopped = _sample("event_loop_lag_seconds_count", settings.service_name)
    await asyncio.sleep(0.05)
    assert _sample("event_loop_lag_seconds_count", settings.service_name) == stopped
