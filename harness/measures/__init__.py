"""What a measured number means, shared by every layer that handles results: the memory model
(memory.py), task metrics (metrics.py), the accuracy/latency trade-off (tradeoff.py) and
per-operator profiles (op_profile.py). Pure functions over values and rows."""
