"""Device profiles: what a board is, how to reach it, how its power is measured."""

from __future__ import annotations

import difflib
import enum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic

from harness.config import configfile
from harness.config.configfile import StrictModel
from harness.cycles.profile import CycleSection
from harness.errors import ConfigError
from harness.locations import profile_dirs
from harness.config.units import Bytes, Fraction, MilliampHours, PositiveSeconds, Seconds, Tops, Volts, Watts

# A labgrid place's transport template: scheme -> (labgrid resource class, NetworkSerialPort
# protocol); harness/lab/labgrid.py fills it with the acquired place's host and port.
LABGRID_TEMPLATES = {"rfc2217": ("NetworkSerialPort", "rfc2217"), "socket": ("NetworkSerialPort", "raw"),
                     "ssh": ("NetworkService", None)}


class Tier(str, enum.Enum):
    """The seed's device classes, plus the engineer's own workstation."""

    FLAGSHIP = "flagship"  # flagship phone class: 20+ TOPS, 50 MB model cap
    MID_RANGE = "mid-range"  # 5-20 TOPS, 20 MB
    WEARABLE = "wearable"  # 0.1-1 TOPS, 5 MB
    IOT = "iot"  # < 0.1 TOPS, 1 MB
    WORKSTATION = "workstation"  # the engineer's own machine; never ranked with boards


class Runtime(str, enum.Enum):
    LITERT = "litert"
    TFLITE_RUNTIME = "tflite-runtime"
    EDGETPU = "edgetpu"
    TFLM = "tflm"
    HARNESS_FW = "edge-harness-fw"  # the reference firmware's own int8 engine (firmware/engine)
    ONNXRUNTIME = "onnxruntime"  # CPU execution provider (harness/runtimes/adapters/onnxruntime.py)
    EXECUTORCH = "executorch"  # .pte programs (harness/runtimes/adapters/executorch.py)

    @property
    def microcontroller(self) -> bool:
        """The model stays in flash; only the arena takes RAM."""
        return self in (Runtime.TFLM, Runtime.HARNESS_FW)


def _no_password(url: str | None) -> str | None:
    from harness.masking import password_in_url

    refusal = password_in_url(url) if url else None
    if refusal:
        raise ValueError(refusal)
    return url


class SshOptions(StrictModel):
    key_file: str | None = None  # None: the SSH agent, then ~/.ssh default keys
    known_hosts: str | None = None  # None: the harness's own known_hosts
    host_key: str | None = None  # a pinned "ssh-ed25519 AAAA..." public key
    accept_unknown_host_key: bool = False  # explicit, logged opt-out of verification
    password_env: str | None = None  # name of an environment variable, never a password
    python: str = "python3"
    workdir: str = "/tmp/edge-harness"
    connect_timeout: PositiveSeconds = 10.0
    command_timeout: PositiveSeconds = 600.0
    boot_wait: Seconds = 60.0  # how long connecting is retried while the board boots


class SerialOptions(StrictModel):
    protocol: Literal["binary", "mlperf-tiny"] = "binary"
    reset: Literal["none", "dtr-rts", "command"] = "none"
    reset_command: list[str] | None = None
    read_timeout: PositiveSeconds = 5.0
    deploy: Literal["upload", "esptool"] = "upload"  # esptool: flash the model partition (ESP32)
    esptool_chip: str = "auto"
    model_partition: int = 0x200000  # offset of the `model` partition (firmware/ports/esp32/partitions.csv)
    # mlperf-tiny, a board flashed by someone else: the model id it answers (m-model-[kws01]) and
    # the sha256 of the .tflite it was built with; the health check then checks identity only.
    model: str | None = None
    model_sha256: str | None = None
    # mlperf-tiny: `performance` runs Tiny's performance mode (5 windows of N inferences);
    # tiny_iterations overrides N/W (the run is then flagged as not meeting Tiny's rules).
    tiny_mode: Literal["latency", "performance"] = "latency"
    tiny_iterations: list[int] | None = None


class QemuOptions(StrictModel):
    image: str | None = None  # disk image or firmware, relative to the repo
    icount_shift: int | None = None
    # Cortex-M only: -icount align=on,sleep=on ties virtual time to real time, so a board runs at
    # 1e9/2**icount_shift instructions per second like a real one, using a fraction of a host core
    pace: bool = False
    memory: Bytes | None = None
    boot_timeout: PositiveSeconds = 120.0
    # Cortex-M: a model in the board's flash at power-on (a board flashed by someone else), with
    # the MLPerf Tiny benchmark id its partition is tagged with (firmware_image.py)
    preload: str | None = None
    tiny_benchmark: str | None = None


class GdbSection(StrictModel):
    """Deploy through a debug probe's GDB server (harness/runners/gdb_deploy.py): the firmware ELF
    and the model partition written to memory, verified, reset; datasets staged in board RAM."""

    server: str | list[str]  # gdb://host:port already listening, or the argv of one to start
    port: int = 3333  # where a started server listens (openocd, pyocd gdbserver: 3333)
    firmware: str | None = None  # the ELF to load; None: the reference firmware built here
    model_address: int  # where the model partition image goes (the firmware's model slot)
    reset: list[str] = ["reset"]  # monitor commands after writing (QEMU: system_reset)
    stage_datasets: bool = True  # accuracy inputs written to board RAM, run with EVAL_MEM
    probe_timeout: Seconds = 3.0  # how long a board that may hold no firmware is asked to identify
    hello_timeout: Seconds = 20.0  # after the reset, until the firmware's banner
    start_timeout: Seconds = 30.0  # a started server, until it listens
    timeout: Seconds = 10.0  # one GDB packet's reply

    @pydantic.field_validator("server")
    @classmethod
    def _server(cls, server: str | list[str]) -> str | list[str]:
        if isinstance(server, str):
            from harness.transports.gdb_rsp import parse_url

            parse_url(server)
        elif not server:
            raise ValueError("an empty argv; give gdb://HOST:PORT or the server's command line")
        return server


class LabgridSection(StrictModel):
    """A board shared through labgrid: the place is acquired for the run and released after.
    The profile's transport is then a template the place fills in (harness/lab/labgrid.py):
    `rfc2217://` (its NetworkSerialPort) or `ssh://user@` (its NetworkService)."""

    place: str
    coordinator: str = "127.0.0.1:20408"  # labgrid-coordinator's gRPC address
    client: str | None = None  # labgrid-client path; None: $EDGE_HARNESS_LABGRID_CLIENT, PATH
    resource: str | None = None  # which serial port/service, when the place has several


class RecoverySection(StrictModel):
    """How a hung board is brought back between attempts, before the runner reconnects."""

    power_cycle: list[str] | None = None  # argv run on the controller, e.g. uhubctl -l 1-1 -p 2 -a cycle
    pdu_url: str | None = None  # an HTTP endpoint that power-cycles the outlet (POSTed to)
    settle: Seconds = 5.0  # wait after a power cycle before reconnecting

    @pydantic.field_validator("pdu_url")
    @classmethod
    def _pdu_without_password(cls, url: str | None) -> str | None:
        return _no_password(url)


class PowerEstimate(StrictModel):
    """An explicit, opt-in estimate: stored and shown as `estimated`, never ranked as measured."""

    tops_per_watt: float | None = None
    rated_power: Watts | None = None


class PowerSection(StrictModel):
    meter: str | None = None  # URL of the meter; None: power is "not measured"
    supply_voltage: Volts | None = None
    battery_capacity: MilliampHours | None = None
    battery_voltage: Volts | None = None
    duty_cycle: float | None = pydantic.Field(default=None, ge=0, le=1)
    windows: int = pydantic.Field(default=5, ge=1)
    window_seconds: PositiveSeconds = 10.0
    estimate: PowerEstimate | None = None

    @pydantic.field_validator("meter")
    @classmethod
    def _known_meter(cls, url: str | None) -> str | None:
        from harness.power import SCHEMES, check_url  # the meter registry is the one list of schemes

        if url is not None and urlsplit(url).scheme not in SCHEMES:
            raise ValueError(f"unknown power meter {url!r}; the URL scheme must be one of {', '.join(SCHEMES)}")
        if url is not None:
            _no_password(url)
            try:
                check_url(url)  # settings the meter itself would refuse, before any run
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return url


class AcceleratorLoad(StrictModel):
    """Where the board's NPU/GPU busy share is read, sampled on the board during the measured
    window (runtimes/agent.py): a sysfs load file or Jetson's tegrastats (docs/profiles.md)."""

    source: Literal["sysfs", "tegrastats"] = pydantic.Field(
        description="sysfs: a load file; tegrastats: Jetson's tegrastats (its GR3D_FREQ x%).")
    path: str | None = pydantic.Field(None, description=(
        "sysfs: the load file as the board sees it (required; Jetson /sys/devices/gpu.0/load, a devfreq "
        ".../load); tegrastats: the command (default: tegrastats on the board's PATH)."))
    full_scale: float = pydantic.Field(1000, gt=0, description="sysfs: the reading of 100 % busy "
                                       "(Jetson load: 1000, devfreq load: 100).")
    interval: PositiveSeconds = pydantic.Field(0.05, description="Between readings (tegrastats --interval, whole ms).")

    @pydantic.model_validator(mode="after")
    def _sysfs_names_its_file(self) -> "AcceleratorLoad":
        if self.source == "sysfs" and not self.path:
            raise ValueError("source 'sysfs' needs 'path': the load file, e.g. /sys/devices/gpu.0/load "
                             "(Jetson, 0..1000) or /sys/class/devfreq/DEVICE/load (full_scale: 100)")
        return self


class Thresholds(StrictModel):
    """Pass/fail limits; the seed's defaults are latency < 200 ms, memory < 60% RAM, battery < 5%/h."""

    latency_ms: float | None = pydantic.Field(default=None, gt=0)
    memory_fraction: float | None = pydantic.Field(default=None, gt=0, le=1)
    battery_pct_per_hour: float | None = pydantic.Field(default=None, gt=0)
    accuracy_drop_points: float | None = pydantic.Field(default=None, ge=0)
    utilization: Fraction | None = None  # the seed's compute utilization < 85 % (a maximum)
    # Task metrics (harness/measures/metrics.py), fractions: a maximum for rates where less is better,
    # a minimum for the others; mae/rmse are maxima in the target's own unit.
    false_alarm_rate: Fraction | None = None
    miss_rate: Fraction | None = None
    recall: Fraction | None = None
    precision: Fraction | None = None
    f1: Fraction | None = None
    auc: Fraction | None = None
    top1: Fraction | None = None
    top5: Fraction | None = None
    mae: float | None = pydantic.Field(default=None, ge=0)
    rmse: float | None = pydantic.Field(default=None, ge=0)

    def merged(self, override: "Thresholds") -> "Thresholds":
        """These limits with every limit `override` sets replacing ours."""
        return self.model_copy(update=override.model_dump(exclude_none=True))


class DeviceProfile(StrictModel):
    name: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str
    tier: Tier
    transport: str | None  # declared before ram/flash: their 'auto' needs to know it
    runtime: Runtime
    compute_tops: Tops | None  # required key; null where no figure is published
    ram: Bytes
    flash: Bytes
    model_volume_cap: Bytes
    arena: Bytes | None = None  # a firmware's static tensor arena (< RAM); the fit check uses it when given
    emulated: bool = False
    reference: bool = False  # a device class from the seed's table, not a board: checked, never run
    cpu: str | None = None
    cores: int | None = pydantic.Field(default=None, ge=1)  # caps a suite's run.threads; local: os.cpu_count()
    accelerator: str | None = None
    accelerator_load: AcceleratorLoad | None = None  # NPU/GPU busy share; None: "not measured"
    specs_source: str | None = None
    ssh: SshOptions | None = None
    serial: SerialOptions | None = None
    qemu: QemuOptions | None = None
    cycles: CycleSection | None = None  # core, clock, flash wait states: the cycle model (issue 18)
    gdb: GdbSection | None = None
    power: PowerSection = PowerSection()
    labgrid: LabgridSection | None = None
    recovery: RecoverySection = RecoverySection()
    thresholds: Thresholds = Thresholds()

    def transport_options(self) -> dict[str, Any]:
        """The plain options its transport takes; transports never see a profile."""
        return {section: value.model_dump() for section in ("ssh", "serial", "qemu", "cycles", "gdb")
                if (value := getattr(self, section)) is not None}

    @pydantic.field_validator("transport")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        from harness.transports import SCHEMES  # the transport registry is the one list of schemes

        if url is None:
            return None  # only a reference class may lack one (checked below)
        _no_password(url)
        if urlsplit(url).scheme not in SCHEMES:
            raise ValueError(f"unknown transport {url!r}; the URL scheme must be one of {', '.join(SCHEMES)}")
        return url

    @pydantic.field_validator("ram", "flash", mode="before")
    @classmethod
    def _auto_size(cls, value: object, info: pydantic.ValidationInfo) -> object:
        # 'auto' measures this machine: only meaningful for the local host.
        if value != "auto":
            return value
        if not str(info.data.get("transport", "")).startswith("local:"):
            raise ValueError("'auto' is only allowed for a local:// device")
        import psutil

        if info.field_name == "ram":
            return psutil.virtual_memory().total
        return psutil.disk_usage(str(Path.cwd())).total

    @pydantic.field_validator("labgrid")
    @classmethod
    def _labgrid_template(cls, section: LabgridSection | None, info: pydantic.ValidationInfo) -> object:
        if section is not None:  # the place gives the host: the transport must be a template
            _check_labgrid_template(str(info.data.get("transport")))
        return section

    @pydantic.field_validator("power")
    @classmethod
    def _meter_reaches_its_counters(cls, power: PowerSection, info: pydantic.ValidationInfo) -> PowerSection:
        # hwmon and RAPL counters live on the measured machine: read there or not at all, never
        # from the controller's own /sys under the board's name.
        from harness.power import ON_THE_BOARD
        from harness.transports import runs_commands

        transport = info.data.get("transport")
        if power.meter and urlsplit(power.meter).scheme in ON_THE_BOARD and transport and not runs_commands(transport):
            raise ValueError(f"meter {power.meter!r} reads counters on the board through its commands, but "
                             f"transport {transport!r} runs no commands; use an external meter "
                             "(joulescope, ppk2, lpm01a, ina)")
        return power

    @pydantic.field_validator("accelerator_load")
    @classmethod
    def _load_read_on_the_board(cls, load: AcceleratorLoad | None, info: pydantic.ValidationInfo) -> object:
        # read by the agent on the board: a board that runs no commands has no agent to read it
        from harness.transports import runs_commands

        transport = info.data.get("transport")
        if load is not None and transport and not runs_commands(transport):
            raise ValueError(f"the accelerator load is read on the board by the agent, but transport "
                             f"{transport!r} runs no commands")
        return load

    @pydantic.model_validator(mode="after")
    def _reference_has_no_transport(self) -> "DeviceProfile":
        if self.transport is None and not self.reference:
            raise ValueError("'transport' is null but the device is not a 'reference: true' class")
        return self


def load_profile(path: Path) -> DeviceProfile:
    profile = configfile.load(path, DeviceProfile)
    if profile.name != path.stem:
        raise ConfigError(f"{path}:1: field 'name': {profile.name!r} must match the file name {path.stem!r}")
    return profile


def resolve(name_or_path: str, profiles_dir: Path | None = None) -> DeviceProfile:
    """A device by name (NAME.yaml in the profile search path) or by the path of its profile."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        return load_profile(candidate)
    dirs = profile_dirs(profiles_dir)
    for directory in dirs:
        path = directory / f"{name_or_path}.yaml"
        if path.is_file():
            return load_profile(path)
    known = sorted(profile_files(dirs))
    close = difflib.get_close_matches(name_or_path, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    searched = ", ".join(str(d) for d in dirs)
    raise ConfigError(f"unknown device {name_or_path!r}: {hint}known devices: {', '.join(known) or 'none'} "
                      f"(searched {searched})")


def profile_files(dirs: list[Path]) -> dict[str, Path]:
    """name -> profile file; a name in an earlier folder hides the same name in a later one."""
    found: dict[str, Path] = {}
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def load_all(profiles_dir: Path | None = None) -> list[DeviceProfile]:
    """Every profile of the search path, all errors reported at once."""
    if profiles_dir is not None and not profiles_dir.is_dir():
        raise ConfigError(f"{profiles_dir}: no such profiles directory")
    loaded, errors = [], []
    for _name, path in sorted(profile_files(profile_dirs(profiles_dir)).items()):
        try:
            loaded.append(load_profile(path))
        except ConfigError as exc:
            errors.extend(configfile.messages(exc))
    configfile.raise_all(errors)
    return loaded


def _check_labgrid_template(url: str) -> None:
    """A transport template for a labgrid place: a known scheme and no host (the place gives it)."""
    parts = urlsplit(url)
    if parts.scheme not in LABGRID_TEMPLATES:
        raise ValueError(f"with a labgrid place the transport must be one of "
                         f"{', '.join(s + '://' for s in LABGRID_TEMPLATES)} (got {url!r})")
    if parts.hostname or parts.port:
        raise ValueError(f"with a labgrid place the host comes from the place: write "
                         f"{parts.scheme}://{parts.username + '@' if parts.username else ''} without a host")
