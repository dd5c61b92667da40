"""Configuration: what users write, loaded and checked before anything runs.

Device profiles, suites, model-independent settings (units, thresholds), the JSON Schemas of
those files, what `run`/`check` are pointed at, evaluation datasets. Every error names file,
line and field (configfile.py). Nothing here runs, stores or reports.
"""
