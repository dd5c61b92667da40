"""The command line: the `harness` app and its commands.

    commands.py  the typer app, its small commands and `main` (the console script)
    run.py       `harness run`: plan, measure every board, summarize, report
    compare.py   `harness compare` and `harness run --baseline`
    runs.py      `harness runs` and `harness results`
    views.py     terminal output (rich tables, JSON, CSV)
    versions.py  `harness --version`

Heavy modules are imported inside commands, so `harness --help` stays fast.
"""

from harness.cli.commands import app, main

__all__ = ["app", "main"]
