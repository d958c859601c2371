"""A scenario version's lines as CSV: amounts in cents and in euros as text, never floats."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = [
    "pool", "theme", "year", "areaCode", "areaName", "level", "base", "need", "needEffective",
    "lambda", "unroundedCents", "cents", "euros", "bindingConstraint", "remainderCent", "share",
    "eurosPerInhabitant", "indicatorMethodVersion", "indicatorPeriod",
]


def to_csv(lines: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({**line, "remainderCent": "true" if line["remainderCent"] else "false"})
    return out.getvalue()
