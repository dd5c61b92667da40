"""Schema 4: the task and its metrics (harness/measures/metrics.py), the compression technique of a variant
and what it was derived from, its MACs, and compute utilization over the measured window."""

import sqlalchemy as sa

from harness.results.migrations import add_result_columns, drop_result_columns

revision = "0004"
down_revision = "0003"

COLUMNS = (
    ("task", sa.String(40)), ("model_macs", sa.BigInteger), ("technique", sa.String(40)),
    ("derived_from", sa.String(100)), ("metrics", sa.JSON), ("cpu_utilization", sa.Float),
    ("board_busy_fraction", sa.Float), ("utilization_method", sa.String(80)),
)


def upgrade() -> None:
    add_result_columns(COLUMNS)


def downgrade() -> None:
    drop_result_columns(COLUMNS)
