"""Schema 1: the store as edge-harness 0.1 made it (before migrations existed).

Frozen copy of harness/results/store.py's tables at that version, so that an empty database migrated
from scratch ends exactly where `metadata.create_all` does (tests/test_store_schema.py checks it).
A store made by that version has no alembic_version table; harness.results.migrations stamps it 0001.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_METRICS = [
    ("init_ms", sa.Float), ("first_inference_ms", sa.Float), ("warmup_count", sa.Integer),
    ("latency_n", sa.Integer), ("latency_p50_us", sa.Float), ("latency_p90_us", sa.Float),
    ("latency_p99_us", sa.Float), ("latency_mean_us", sa.Float), ("latency_std_us", sa.Float),
    ("latency_min_us", sa.Float), ("latency_max_us", sa.Float),
    ("latency_ci_low_us", sa.Float), ("latency_ci_high_us", sa.Float),
    ("set_input_us", sa.Float), ("get_output_us", sa.Float),
    ("rss_load_delta_bytes", sa.BigInteger), ("rss_peak_bytes", sa.BigInteger),
    ("arena_bytes", sa.BigInteger),
    ("accuracy_top1", sa.Float), ("accuracy_top5", sa.Float), ("accuracy_samples", sa.Integer),
    ("accuracy_delta_points", sa.Float),
    ("energy_uj", sa.Float), ("avg_power_mw", sa.Float), ("peak_power_mw", sa.Float),
    ("idle_power_mw", sa.Float), ("battery_pct_per_hour", sa.Float), ("battery_life_h", sa.Float),
]


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("suite_path", sa.Text),
        sa.Column("suite_sha256", sa.String(64)),
        sa.Column("suite_text", sa.Text),
        sa.Column("devices", sa.JSON),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("harness_version", sa.String(40)),
        sa.Column("git_describe", sa.String(100)),
        sa.Column("controller", sa.String(200)),
        sa.Column("command", sa.Text),
    )
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.UniqueConstraint("run_id", "device", "fingerprint"),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("reference_variant", sa.String(100)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("runtime", sa.String(40)),
        sa.Column("emulated", sa.Boolean, nullable=False),
        sa.Column("model_sha256", sa.String(64)),
        sa.Column("model_bytes", sa.BigInteger),
        sa.Column("model_gzip_bytes", sa.BigInteger),
        sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
        sa.Column("conditions", sa.JSON),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float),
        *[sa.Column(name, kind) for name, kind in _METRICS],
        sa.Column("power_status", sa.String(20), nullable=False),
        sa.Column("power_detail", sa.JSON),
        sa.Column("thresholds", sa.JSON),
        sa.Column("thresholds_passed", sa.Boolean),
        sa.Column("extra", sa.JSON),
        sa.UniqueConstraint("run_id", "device", "family", "variant", name="one_result_per_case"),
    )
    op.create_index("results_by_device_case", "results", ["device", "family", "variant"])
    op.create_table(
        "latency_samples",
        sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id"), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("samples_us", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "boards",
        sa.Column("device", sa.String(100), primary_key=True),
        sa.Column("health", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "harness_meta",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200)),
    )


def downgrade() -> None:
    for table in ("harness_meta", "boards", "latency_samples", "results", "environments", "runs"):
        op.drop_table(table)
