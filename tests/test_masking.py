"""One masking function for secrets: log lines, stored reasons, reports and error lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from harness import masking
from harness.masking import mask
from harness.results.store import Store


def test_url_passwords_and_registered_values_are_masked() -> None:
    assert mask("ssh://root:hunter2@10.0.0.9:22 refused") == "ssh://root:****@10.0.0.9:22 refused"
    assert mask("postgresql+psycopg://lab:s3cr3t@db/x") == "postgresql+psycopg://lab:****@db/x"
    assert mask("ssh://pi@rpi4.lab:22 and https://example.org/a:b") == "ssh://pi@rpi4.lab:22 and https://example.org/a:b"
    masking.register("Tr0ub4dor&3")
    assert mask("auth failed for Tr0ub4dor&3") == "auth failed for ****"


def test_every_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    masking.mask_logs()
    try:
        with caplog.at_level(logging.WARNING):
            logging.getLogger("harness.test").warning("cannot reach %s", "ssh://u:hunter2@h")
    finally:
        logging.setLogRecordFactory(previous)
    assert "hunter2" not in caplog.text and "ssh://u:****@h" in caplog.text


def test_stored_reasons_are_masked(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.sqlite"))
    store.start_run({"run_id": "r", "suite": "s", "devices": ["b"],
                     "command": "harness run s.yaml --store postgresql://u:hunter2@db/x"})
    store.record_result({"run_id": "r", "device": "b", "family": "f", "variant": "v", "status": "failed",
                         "reason": "ssh://root:hunter2@b: connection reset"})
    store.set_board_health("b", "bad", "ssh://root:hunter2@b unreachable")
    texts = [store.results("r")[0]["reason"], store.board_health("b")["reason"], store.run("r")["command"]]
    assert all("hunter2" not in t and "****" in t for t in texts), texts


def test_report_pages_pass_values_through_the_mask() -> None:
    from harness.report.render import environment

    page = environment().from_string("{{ reason }} {{ svg|safe }}").render(
        reason="ssh://root:hunter2@b <down>", svg="<svg><title>ssh://u:hunter2@h</title></svg>")
    assert page == "ssh://root:****@b &lt;down&gt; <svg><title>ssh://u:****@h</title></svg>"
