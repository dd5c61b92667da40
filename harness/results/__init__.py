"""Results: the store (SQLite/PostgreSQL, migrations/, leases) and what reads runs back —
baselines, regression detection and its history rule, CI outputs, merging stores, provenance."""
