"""Schema 3: one memory model (working memory by its method, planned activations), the median of
each repetition (run --repeat, --rerun-suspects) and the emulated Cortex-M's cycle estimates."""

import sqlalchemy as sa

from harness.results.migrations import add_result_columns, drop_result_columns

revision = "0003"
down_revision = "0002"

COLUMNS = (
    ("working_memory_bytes", sa.BigInteger), ("working_memory_method", sa.String(20)),
    ("planned_activation_bytes", sa.BigInteger), ("latency_repeat_p50_us", sa.JSON),
    ("estimated_cycles", sa.BigInteger), ("estimated_latency_us", sa.Float), ("cycle_model", sa.String(40)),
)


def upgrade() -> None:
    add_result_columns(COLUMNS)


def downgrade() -> None:
    drop_result_columns(COLUMNS)
