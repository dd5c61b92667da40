"""Schema 5: the NPU's/GPU's busy share over the measured window (a profile's accelerator_load)."""

import sqlalchemy as sa

from harness.results.migrations import add_result_columns, drop_result_columns

revision = "0005"
down_revision = "0004"

COLUMNS = (("accelerator_busy_fraction", sa.Float), ("accelerator_method", sa.String(200)))


def upgrade() -> None:
    add_result_columns(COLUMNS)


def downgrade() -> None:
    drop_result_columns(COLUMNS)
