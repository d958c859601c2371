"""programme scale: indicators kept per period, a programme's periods per budget year, and
scenario lines as rows

A budget year may use an older indicator period than the latest, so indicators are kept per
(area, period) as well; the latest received seed that table. A programme names the period of
each budget year (`indicator_periods_json`, none for the existing ones: they keep using the
latest). The lines of a scenario version move from one JSON document into `scenario_lines`,
one row each, keyed as they are paged and filtered (pool, theme, year, area); the rest of a
line stays JSON. The downgrade puts them back as one document per version.

Revision ID: fun0004
Revises: fun0003
Create Date: 2026-12-04 04:00:00.000000
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "fun0004"
down_revision: str | None = "fun0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "area_indicator_periods",
        sa.Column("area_code", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("method_version", sa.String(length=40), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("composite_score", sa.String(length=40), nullable=True),
        sa.Column("composite_rank", sa.Integer(), nullable=True),
        sa.Column("composite_decile", sa.Integer(), nullable=True),
        sa.Column("computed_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("area_code", "period", name=op.f("pk_area_indicator_periods")),
    )
    op.create_index(op.f("ix_area_indicator_periods_period"), "area_indicator_periods",
                    ["period"], unique=False)
    op.execute(
        "INSERT INTO area_indicator_periods (area_code, period, level, method_version, "
        "values_json, composite_score, composite_rank, composite_decile, computed_at, "
        "received_at) SELECT area_code, period, level, method_version, values_json, "
        "composite_score, composite_rank, composite_decile, computed_at, received_at "
        "FROM area_indicator_inputs")
    op.add_column("programmes", sa.Column("indicator_periods_json", sa.Text(), nullable=False,
                                          server_default="[]"))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place
        op.alter_column("programmes", "indicator_periods_json", server_default=None)
    op.create_table(
        "scenario_lines",
        sa.Column("scenario_id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=100), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.Column("line_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id", "version"],
            ["scenario_versions.scenario_id", "scenario_versions.version"],
            name=op.f("fk_scenario_lines_scenario_id_scenario_versions")),
        sa.PrimaryKeyConstraint("scenario_id", "version", "pool", "theme", "year", "area_code",
                                name=op.f("pk_scenario_lines")),
    )
    op.create_index("ix_scenario_lines_area", "scenario_lines",
                    ["scenario_id", "version", "area_code"], unique=False)
    op.create_index("ix_scenario_lines_year", "scenario_lines",
                    ["scenario_id", "version", "year"], unique=False)
    conn = op.get_bind()
    versions = conn.execute(sa.text(
        "SELECT scenario_id, version, lines_json FROM scenario_versions")).all()
    for scenario_id, version, lines_json in versions:
        rows = [{"scenario_id": scenario_id, "version": version, "pool": line["pool"],
                 "theme": line["theme"], "year": line["year"], "area_code": line["areaCode"],
                 "cents": line["cents"], "line_json": orjson.dumps(line).decode()}
                for line in orjson.loads(lines_json)]
        for start in range(0, len(rows), BATCH):
            conn.execute(sa.text(
                "INSERT INTO scenario_lines (scenario_id, version, pool, theme, year, "
                "area_code, cents, line_json) VALUES (:scenario_id, :version, :pool, :theme, "
                ":year, :area_code, :cents, :line_json)"), rows[start:start + BATCH])
    op.drop_column("scenario_versions", "lines_json")


def downgrade() -> None:
    op.add_column("scenario_versions", sa.Column("lines_json", sa.Text(), nullable=False,
                                                 server_default="[]"))
    conn = op.get_bind()
    documents: dict[tuple[Any, int], list[Any]] = defaultdict(list)
    for scenario_id, version, line_json in conn.execute(sa.text(
            "SELECT scenario_id, version, line_json FROM scenario_lines "
            "ORDER BY scenario_id, version, pool, theme, year, area_code")):
        documents[(scenario_id, version)].append(orjson.loads(line_json))
    for (scenario_id, version), lines in documents.items():
        conn.execute(sa.text("UPDATE scenario_versions SET lines_json = :lines "
                             "WHERE scenario_id = :id AND version = :version"),
                     {"lines": orjson.dumps(lines).decode(), "id": scenario_id,
                      "version": version})
    op.drop_index("ix_scenario_lines_year", table_name="scenario_lines")
    op.drop_index("ix_scenario_lines_area", table_name="scenario_lines")
    op.drop_table("scenario_lines")
    op.drop_column("programmes", "indicator_periods_json")
    op.drop_index(op.f("ix_area_indicator_periods_period"), table_name="area_indicator_periods")
    op.drop_table("area_indicator_periods")
