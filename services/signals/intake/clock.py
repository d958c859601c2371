"""Clock skew of offline devices: a batch's `sentAt` against the server's clock.

A field app queues signals while offline and stamps each with its own clock, which may be
minutes or hours off. When it sends the queue it also says when it sent it (`sentAt`, by the
same clock), so `server now - sentAt` is how far that clock is off (plus the request's transit,
a second or so at most). Every device moment of the batch is moved by that correction, in whole
seconds, and the signal records it (`clock_correction_seconds`). A correction of more than a
day is not a clock that drifted but a device with a wrong date or a forged `sentAt`: refused.

The body's own moments stay as sent in its idempotency fingerprint: a retry of the same batch
measures a slightly different skew, and must still replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.problems import BadRequest, InvalidParam

MAX_CORRECTION = timedelta(hours=24)


def correction(sent_at: datetime, now: datetime) -> timedelta:
    """What to add to the device's moments; a 400 naming `body.sentAt` beyond a day."""
    skew = timedelta(seconds=round((now - sent_at).total_seconds()))
    if abs(skew) > MAX_CORRECTION:
        raise BadRequest("the device clock is more than a day off", invalid=[InvalidParam(
            name="body.sentAt", code="clock_skew_too_large",
            reason="sentAt lies more than 24 hours from the server's time; set the "
                   "device's date and time")])
    return skew
