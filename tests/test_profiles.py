"""Device profiles: every shipped profile loads; bad ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import profiles
from harness.errors import ConfigError
from tests.conftest import REPO

GOOD = """\
name: board
description: a test board
tier: iot
transport: ssh://pi@board.lab:22
runtime: litert
compute_tops: 4 TOPS
ram: 4 GiB
flash: 32 GB
model_volume_cap: 20 MB
"""


def write(tmp_path: Path, text: str, name: str = "board") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        profiles.load_profile(path)
    return str(info.value)


def test_shipped_profiles_load() -> None:
    found = {p.name: p for p in profiles.load_all(REPO / "device_profiles")}
    expected = {"host", "host-tflm", "flagship", "mid-range", "wearable", "iot", "esp32-s3",
                "rpi4", "rpi5", "coral-dev-board", "qemu-cortex-m", "qemu-aarch64"}
    assert expected <= set(found)
    assert found["coral-dev-board"].compute_tops == 4.0
    assert found["flagship"].model_volume_cap == 50_000_000
    assert found["iot"].model_volume_cap == 1_000_000 and found["iot"].compute_tops < 0.1
    assert 5 <= found["mid-range"].compute_tops <= 20 and found["mid-range"].model_volume_cap == 20_000_000
    assert 0.1 <= found["wearable"].compute_tops <= 1 and found["wearable"].model_volume_cap == 5_000_000
    assert found["flagship"].compute_tops >= 20
    assert found["esp32-s3"].ram == 512 * 1024
    assert found["host"].ram > 0 and found["host"].transport.startswith("local://")


def test_units_are_parsed(tmp_path: Path) -> None:
    p = profiles.load_profile(write(tmp_path, GOOD))
    assert (p.ram, p.flash, p.model_volume_cap, p.compute_tops) == (4 * 2**30, 32 * 10**9, 20 * 10**6, 4.0)


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "modle_volume_cap: 3 MB\n"))
    assert message == (f"{tmp_path / 'board.yaml'}:10: unknown key 'modle_volume_cap'; "
                       "did you mean 'model_volume_cap'?")


def test_nested_unknown_key(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "thresholds:\n  latency: 200\n"))
    assert ":11: unknown key 'thresholds.latency'; did you mean 'latency_ms'?" in message


def test_missing_field(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("runtime: litert\n", "")))
    assert message.endswith("missing required field 'runtime'")


def test_wrong_unit(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("ram: 4 GiB", "ram: 4 GHz")))
    assert f"{tmp_path / 'board.yaml'}:7: field 'ram': wrong unit 'GHz' for a size in bytes" in message


def test_wrong_enum(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("tier: iot", "tier: phone")))
    assert ":3: field 'tier':" in message and "'flagship'" in message


def test_unknown_transport(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("ssh://pi@board.lab:22", "usb://board")))
    assert ":4: field 'transport': unknown transport 'usb://board'" in message


def test_duplicate_key(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "ram: 8 GiB\n"))
    assert message == f"{tmp_path / 'board.yaml'}:10: duplicate key 'ram'"


def test_malformed_yaml(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "thresholds: [unclosed\n"))
    assert message.startswith(f"{tmp_path / 'board.yaml'}:") and "malformed YAML" in message


def test_auto_size_only_for_local(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("ram: 4 GiB", "ram: auto")))
    assert "field 'ram': 'auto' is only allowed for a local:// device" in message


def test_name_must_match_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD, name="other"))
    assert "'board' must match the file name 'other'" in message


def test_null_transport_only_for_reference(tmp_path: Path) -> None:
    text = GOOD.replace("transport: ssh://pi@board.lab:22", "transport: null")
    assert "not a 'reference: true' class" in error_of(write(tmp_path, text))
    assert profiles.load_profile(write(tmp_path, text + "reference: true\n")).reference


def test_password_is_not_a_profile_field(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "ssh:\n  password: hunter2\n"))
    assert "unknown key 'ssh.password'; did you mean 'password_env'?" in message


def test_unknown_device_lists_known(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    with pytest.raises(ConfigError, match=r"unknown device 'nope'.*known devices: board"):
        profiles.resolve("nope", tmp_path)


def test_unknown_power_meter(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD + "power:\n  meter: multimeter:///dev/ttyUSB3\n"))
    assert ":11: field 'power.meter': unknown power meter 'multimeter:///dev/ttyUSB3'" in message


def test_unit_symbols_are_case_sensitive_and_quantities_finite() -> None:
    """'2 MW' was read as 2 mW when units were lower-cased; now a wrong case names the symbol."""
    import pydantic

    from harness.config.units import Bytes, Watts

    watts, size = pydantic.TypeAdapter(Watts), pydantic.TypeAdapter(Bytes)
    assert watts.validate_python("2 mW") == pytest.approx(0.002)
    assert size.validate_python("4 GiB") == 4 * 2**30 and size.validate_python("50 MB") == 50 * 10**6
    for bad, message in (("2 MW", "did you mean 'mW'"), ("4 gib", "did you mean 'GiB'"),
                         (float("inf"), "finite"), ("1e400 GiB", "finite"), (0, "greater than 0")):
        adapter = watts if "W" in str(bad) else size
        with pytest.raises(pydantic.ValidationError, match=message):
            adapter.validate_python(bad)
