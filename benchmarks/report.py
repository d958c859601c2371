"""The benchmark table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    scenario: str
    throughput: str
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float | None
    ratio: float | None = None  # to the hello-world baseline
    target: str = ""
    ok: bool = True
    note: str = ""


def _f(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def render(rows: list[Row]) -> str:
    header = ("scenario", "throughput", "p50 ms", "p99 ms", "peak RSS MB", "vs hello-world",
              "target", "met", "note")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.throughput} | {_f(r.p50_ms, '.1f')} | {_f(r.p99_ms, '.1f')} | "
            f"{_f(r.peak_rss_mb, '.0f')} | {_f(r.ratio, '.2f') + 'x' if r.ratio else ''} | "
            f"{r.target} | {'yes' if r.ok else 'NO'} | {r.note} |")
    return "\n".join(lines)
