"""The one background-loop shape: ticks, wake-ups, backoff after failures, stop."""

from __future__ import annotations

import asyncio

from shared.periodic import PeriodicTask


class Recorder(PeriodicTask):
    name = "recorder"

    def __init__(self, plan: list[object], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.plan = plan
        self.ticks: list[float] = []

    async def tick(self) -> float | None:
        self.ticks.append(asyncio.get_running_loop().time())
        step = self.plan.pop(0) if self.plan else None
        if isinstance(step, Exception):
            raise step
        return step  # type: ignore[return-value]


async def test_ticks_at_the_interval_and_at_once_when_asked() -> None:
    task = Recorder([0.0, 0.0, None], interval_s=0.2)
    task.start()
    await asyncio.sleep(0.1)
    assert len(task.ticks) == 3  # the first at once, then two "more is waiting"
    await asyncio.sleep(0.2)
    assert len(task.ticks) == 4
    await task.stop()
    assert not task.running


async def test_ticks_that_ask_for_more_at_once_still_let_the_loop_turn() -> None:
    """A tick that finds work but awaits nothing that suspends (SQLite runs inline) and asks
    to run again at once must not hold the event loop: what it waits for runs meanwhile."""
    other_ran_at: list[int] = []
    task = Recorder([0.0] * 1000, interval_s=30.0)

    async def other() -> None:
        other_ran_at.append(len(task.ticks))

    task.start()
    asyncio.get_running_loop().create_task(other())
    await asyncio.sleep(0.2)
    await task.stop()
    assert len(task.ticks) == 1001 and other_ran_at and other_ran_at[0] <= 2, other_ran_at


async def test_notify_wakes_before_the_interval() -> None:
    task = Recorder([], interval_s=30.0)
    task.start()
    await asyncio.sleep(0.05)
    task.notify()
    await asyncio.sleep(0.05)
    assert len(task.ticks) == 2
    await task.stop()


async def test_failures_back_off_and_the_loop_survives() -> None:
    task = Recorder([RuntimeError("db away"), RuntimeError("db away"), None],
                    interval_s=0.1, max_backoff_s=1.0)
    task.start()
    for _ in range(500):
        if len(task.ticks) >= 3:
            break
        await asyncio.sleep(0.01)
    await task.stop()
    gaps = [b - a for a, b in zip(task.ticks, task.ticks[1:], strict=False)]
    assert len(task.ticks) >= 3
    # A busy machine makes a gap longer, never shorter: the lower bounds are the backoffs;
    # the first one's upper bound tells it from a doubled one.
    assert 0.099 <= gaps[0] < 0.19
    assert gaps[1] >= 0.199  # doubled after the second failure
    assert task.last_error is None  # the third tick succeeded


async def test_first_delay_waits_one_interval() -> None:
    task = Recorder([], interval_s=0.2, first_delay=True)
    task.start()
    await asyncio.sleep(0.1)
    assert task.ticks == []
    await task.stop()


class NotifiedWhileFailing(Recorder):
    """A commit's notify() lands while the tick is failing (before the backoff begins)."""

    async def tick(self) -> float | None:
        if self.plan and isinstance(self.plan[0], Exception):
            self.notify()
        return await super().tick()


async def test_a_wake_during_a_failing_tick_does_not_cut_the_backoff_short() -> None:
    task = NotifiedWhileFailing([RuntimeError("broker away")] * 5,
                                interval_s=0.2, max_backoff_s=0.2)
    task.start()
    await asyncio.sleep(0.5)
    await task.stop()
    # At once, then every 0.2 s: three ticks. A wake kept from the failing tick would end
    # each backoff at once: all five failures and a success within the first moment.
    assert len(task.ticks) <= 4, len(task.ticks)
