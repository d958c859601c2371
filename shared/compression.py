"""gzip for the answers a route keeps as bytes (`shared.http_cache.known_etag`), made once.

A buurt ranking is 1.5 MB of JSON and goes to dashboards and the console again and again;
gzipped it is a tenth of that. Compressing it per request would cost 13 ms of CPU each time,
so the gzipped bytes are kept beside the answer's strong ETag (the hash of the exact body the
route vouches for): one compression per kept answer, in a thread when it is large (zlib lets
go of the GIL meanwhile), however many readers ask at once.

Only answers a route vouches for with their ETag: kept answers, the large, hot,
public-or-aggregate ones, and maps (outlines and published values). An answer with
personal data (a signal, a referral) is not kept here, so nothing of it stays in memory
after its request.

The gzipped representation has the weak ETag `W/<strong ETag>`: it carries the same content,
and `If-None-Match` compares weakly, so a client's copy validates whichever way it was sent.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

#: Below this an answer goes as it is: compressing it costs more than sending what it saves.
#: An area's indicators (2.7 KB) are mostly read once between two changes of the area: gzipped
#: at every such read, 50 analysts read 2,504 instead of 3,465 a second in the national bench.
#: A ranking's page of 100 (12 KB) is read again and again.
MIN_BYTES = 8 * 1024
#: The gzipped answers kept per process, least recently read dropped first.
KEPT_BYTES = 32 * 1024 * 1024
#: From this size an answer is compressed in a thread, not on the event loop (13 ms for a
#: national ranking at level 6; 0.05 ms for an area's indicators).
THREAD_BYTES = 64 * 1024
LEVEL = 6
GZIP = 31  # zlib's wbits for a gzip stream (its header's mtime 0: the same bytes each time)


def accepts_gzip(header: bytes | None) -> bool:
    """Does `Accept-Encoding` accept gzip (RFC 9110 12.5.3: `gzip`, `x-gzip` or `*`, with a
    q-value above 0; `*` not where gzip itself is refused)?"""
    if not header:
        return False
    wildcard = False
    for part in header.lower().split(b","):
        name, _, params = part.partition(b";")
        name = name.strip()
        quality = 1.0
        for param in params.split(b";"):
            key, _, value = param.partition(b"=")
            if key.strip() == b"q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if name in (b"gzip", b"x-gzip"):
            return quality > 0
        if name == b"*":
            wildcard = quality > 0
    return wildcard


def weak(etag: bytes) -> bytes:
    """The ETag of the gzipped representation of the answer whose ETag is `etag`."""
    return etag if etag.startswith(b"W/") else b"W/" + etag


class GzipKept:
    """The gzipped bytes of kept answers, by their strong ETag, at most `budget` bytes.

    Keyed by the ETag and the body's length: the ETag is the route's word (`known_etag`),
    and the length is a check for free that a route which got it wrong is not given another
    answer's bytes (unless of the very same length; the tests of every kept answer check
    that its ETag is the hash of its bytes).
    """

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self.budget, self.used = budget, 0
        self._kept: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._making: dict[tuple[bytes, int], asyncio.Future[bytes]] = {}
        self.compressions = 0  # how many times it compressed (tests: once per answer)
        # One compression at a time, on a thread of its own: any reader can ask for many
        # maps (10 MB each nationally), and in the default pool they would hold up what
        # else runs there (SQLite's commits among it).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gzip")

    async def packed(self, etag: bytes, body: bytes) -> bytes:
        """`body` gzipped, `etag` being its strong ETag."""
        key = (etag, len(body))
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        making = self._making.get(key)
        if making is None:
            making = asyncio.ensure_future(self._compress(key, body))
            self._making[key] = making
            making.add_done_callback(lambda _: self._making.pop(key, None))
        return await asyncio.shield(making)

    async def _compress(self, key: tuple[bytes, int], body: bytes) -> bytes:
        self.compressions += 1
        if len(body) >= THREAD_BYTES:
            packed = await asyncio.get_running_loop().run_in_executor(
                self._thread, zlib.compress, body, LEVEL, GZIP)
        else:
            packed = zlib.compress(body, LEVEL, GZIP)
        if len(packed) <= self.budget and key not in self._kept:
            self._kept[key] = packed
            self.used += len(packed)
            while self.used > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self.used -= len(dropped)
        return packed
