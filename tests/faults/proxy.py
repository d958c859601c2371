"""A small TCP proxy that injects network faults between a client and a server."""

from __future__ import annotations

import asyncio
import contextlib
import random


class FaultyProxy:
    """Forwards 127.0.0.1:<port> to a target; faults can be switched on while it runs.

    latency_s: added before every forwarded chunk; stalled: forward nothing (data waits);
    reset(): abort every open connection (RST), as a flaky network or a NAT timeout does.
    """

    def __init__(self, target_port: int, port: int) -> None:
        self.target_port = target_port
        self.port = port
        self.latency_s = 0.0
        self.stalled = asyncio.Event()
        self.stalled.set()  # set = flowing
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        self.reset()
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def stall(self, on: bool) -> None:
        if on:
            self.stalled.clear()
        else:
            self.stalled.set()

    def reset(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.stalled.wait()
                if self.latency_s:
                    await asyncio.sleep(self.latency_s * random.uniform(0.5, 1.5))  # noqa: S311
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)
