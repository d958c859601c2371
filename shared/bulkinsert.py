"""Fast path: an INSERT of many rows as one executemany, each value converted by its type.

The signals group writer stores new signals with it (`repository.insert_new`); SQLAlchemy's
own `conn.execute(insert(table), rows)` prepares every row's parameters through generic
machinery that costs more per row than SQLite's insert itself. Buys, on the batch of 500
(signal-batch), measured 2026-12-04 against SQLAlchemy's own insert in 8 alternating rounds
(`python -m benchmarks.ab`, docs/benchmarks.md): without it a batch cost 11 % more server
CPU; with it 18 % more signals per second went in (medians, on a heavily loaded machine).

What it leans on: a compiled INSERT's `positiontup` (the order of its positional
parameters) and each column type's `bind_processor` for the dialect, so values are stored
exactly as SQLAlchemy stores them. `shared/tests/test_bulk_insert.py` fails when either
changes, comparing what this stores with what SQLAlchemy's own insert stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from sqlalchemy.sql.type_api import _BindProcessorType

class BulkInsert:
    """An INSERT of many rows as one executemany, each value converted by its column's type.

    SQLAlchemy's executemany prepares every row's parameters through generic machinery that
    costs more per row than SQLite's insert itself. Here the statement is compiled once per
    dialect and set of keys, and each column's own bind processor (so values are stored
    exactly as SQLAlchemy stores them) runs in a tight loop. Every row holds the same keys,
    among them every column that has a default.
    """

    def __init__(self, table: Table) -> None:
        self._table = table
        self._plans: dict[tuple[str, tuple[str, ...]], _InsertPlan] = {}

    async def execute(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        plan = self._plan(conn.dialect, tuple(rows[0]))
        params = []
        for row in rows:
            values = list(plan.values(row))
            for i, process in plan.processors:
                values[i] = process(values[i])
            params.append(tuple(values))
        await conn.exec_driver_sql(plan.sql, params)

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _InsertPlan:
        plan = self._plans.get((dialect.name, keys))
        if plan is None:
            compiled = insert(self._table).compile(dialect=dialect, column_keys=list(keys))
            names = compiled.positiontup
            if names is None or sorted(names) != sorted(keys):
                raise ValueError(f"rows for {self._table.name} must hold exactly the columns "
                                 f"{sorted(names or [])} and a positional dialect")
            processors = [(i, p) for i, name in enumerate(names)
                          if (p := _bind_processor(self._table.c[name].type, dialect))]
            plan = self._plans[(dialect.name, keys)] = _InsertPlan(
                str(compiled), itemgetter(*names), processors)
        return plan


def _bind_processor(type_: Any, dialect: Dialect) -> Any:
    """The conversion SQLAlchemy applies to a value of `type_` bound for `dialect`."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: list[tuple[int, _BindProcessorType[Any]]]
