"""Schema 3: one memory model (working memory by its method, planned activations), the median of
each repetition (run --repeat, --rerun-suspects) and the emulated Cortex-M's cycle estimates."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

COLUMNS = (
    ("working_memory_bytes", sa.BigInteger), ("working_memory_method", sa.String(20)),
    ("planned_activation_bytes", sa.BigInteger), ("latency_repeat_p50_us", sa.JSON),
    ("estimated_cycles", sa.BigInteger), ("estimated_latency_us", sa.Float), ("cycle_model", sa.String(40)),
)


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:  # SQLite alters by copying: batch mode
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
