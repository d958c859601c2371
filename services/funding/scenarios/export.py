"""A scenario version's lines as CSV: amounts in cents and in euros as text, never floats."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from services.funding.lines import COLUMNS, AllocationLine


def to_csv(lines: Iterable[AllocationLine]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        row = line.model_dump(mode="json", by_alias=True)
        row["remainderCent"] = "true" if line.remainder_cent else "false"
        writer.writerow(row)
    return out.getvalue()
