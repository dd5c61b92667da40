"""YAML config files validated by pydantic, with errors that name file, line and field.

PyYAML's `safe_load` forgets where a value came from and silently keeps the last of two
duplicate keys; we compose the node tree once to remember every key's line and to refuse
duplicates, then validate the plain data with a pydantic model that forbids unknown keys.

What is read is bounded: a config file is a regular file of at most MAX_CONFIG_BYTES (a FIFO
or /dev/zero would block or never end), and YAML aliases are refused while composing, so an
alias bomb ("billion laughs") fails at its first alias instead of expanding in memory.
"""

from __future__ import annotations

import difflib
import re
import stat
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from harness.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)
Loc = tuple[str | int, ...]
MAX_CONFIG_BYTES = 1 << 20  # profiles and suites are a few KiB; 1 MiB is generous and reads fast
_NUMBER_WITH_UNIT = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*(%|[A-Za-z]+)\s*$")


class StrictModel(pydantic.BaseModel):
    """Base for every config schema: unknown keys are errors, values are immutable, and
    floats are finite (`.inf` and `.nan` are YAML floats, never a meaningful setting)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _AliasFound(Exception):
    def __init__(self, mark: yaml.Mark, anchor: str) -> None:
        self.mark, self.anchor = mark, anchor


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias: anchors are harmless, expansion is not."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasFound(event.start_mark, event.anchor)
        return super().compose_node(parent, index)


def load(path: Path, schema: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Read `path` and validate it as `schema`; every failure is a ConfigError naming the file."""
    data, lines = read_yaml(path)
    return validate(data, schema, path, lines, context=context)


def read_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """A config file's text; a missing, special, huge or undecodable file is a ConfigError."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a regular file (a directory, FIFO or device is never a config file)")
    if info.st_size > limit:
        raise ConfigError(f"{path}: {info.st_size / 2**20:.1f} MiB is larger than the {limit >> 20} MiB "
                          "a config file may be")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # the file may have grown since stat
        if len(data) > limit:
            raise ConfigError(f"{path}: larger than the {limit >> 20} MiB a config file may be")
        return data.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=_NoAliasLoader)
        data = yaml.safe_load(text)
    except _AliasFound as exc:
        raise ConfigError(f"{path}:{exc.mark.line + 1}: YAML alias *{exc.anchor} is not accepted in a config "
                          "file; write the value out") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    lines: dict[Loc, int] = {}
    if node is not None:
        index_lines(node, (), lines, path)
    return data, lines


def index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path | None = None) -> None:
    """The line of every key and item under `node`; a duplicate key is an error when `path` is given."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*loc, key)
            if child in lines and path is not None:
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: duplicate key {_dotted(child)!r}"
                )
            lines[child] = key_node.start_mark.line + 1
            index_lines(value_node, child, lines, path)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index_lines(item, (*loc, i), lines, path)


def validate(
    data: Any,
    schema: type[M],
    path: Path,
    lines: dict[Loc, int],
    *,
    context: dict[str, Any] | None = None,
) -> M:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return schema.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
    raise_all(format_errors(errors, schema, path, lines))
    raise AssertionError("unreachable")


def raise_all(messages: list[str]) -> None:
    """One ConfigError carrying every message: one line for one, a list for several, so a
    person fixes a file in one go instead of one field per attempt."""
    if len(messages) == 1:
        raise ConfigError(messages[0])
    if messages:
        raise ConfigError(f"{len(messages)} errors:\n  " + "\n  ".join(messages))


def messages(exc: ConfigError) -> list[str]:
    """The separate messages of an error raised by raise_all, to collect into a larger one."""
    lines = str(exc).splitlines()
    return [line.strip() for line in lines[1:]] if len(lines) > 1 else [str(exc)]


def format_errors(errors: list[dict[str, Any]], schema: type, path: Path, lines: dict[Loc, int]) -> list[str]:
    """Every validation error, in file order. A misspelt key is reported once, as the unknown key
    with its did-you-mean, not again as the required field it was meant to be."""
    meant: set[Loc] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = _clean(error["loc"])
            close = difflib.get_close_matches(str(loc[-1]), _fields_at(schema, loc[:-1]), n=1)
            if close:
                meant.add((*loc[:-1], close[0]))
    kept = [e for e in errors if not (e["type"] == "missing" and _clean(e["loc"]) in meant)]
    ordered = sorted(kept, key=lambda e: _nearest_line(_clean(e["loc"]), lines))
    return list(dict.fromkeys(format_error(e, schema, path, lines) for e in ordered))


def _clean(loc: Any) -> Loc:
    return tuple(part for part in loc if not _is_union_tag(part))


def format_error(error: dict[str, Any], schema: type, path: Path, lines: dict[Loc, int]) -> str:
    loc: Loc = _clean(error["loc"])
    field = _dotted(loc) or "(top level)"
    line = _nearest_line(loc, lines)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _fields_at(schema, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
        return f"{path}:{line}: unknown key {field!r}{hint}"
    if kind == "missing":
        return f"{path}:{line}: missing required field {field!r}"
    msg = error["msg"].removeprefix("Value error, ")
    if kind in ("float_parsing", "int_parsing") and isinstance(error.get("input"), str):
        msg = _unit_where_number(loc, error["input"]) or msg
    return f"{path}:{line}: field {field!r}: {msg}" if loc else f"{path}:{line}: {msg}"


def _unit_where_number(loc: Loc, value: str) -> str | None:
    """'200 ms' where a plain number is expected: say so, with the unit the field is in."""
    match = _NUMBER_WITH_UNIT.match(value)
    if not match or not loc:
        return None
    name = str(loc[-1])
    unit = next((u for suffix, u in _FIELD_UNITS.items() if name.endswith(suffix)), "")
    plain = value[: match.start(1)].strip()
    return f"expected a number{unit}, without unit: {plain!r}, not {value!r}"


_FIELD_UNITS = {"_ms": " in ms", "_pct": " in percent", "_per_hour": " in percent per hour",
                "_points": " in percentage points", "fraction": " (a fraction: 0.6 for 60 %)"}


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the member type's name into `loc` for unions (e.g. 'function-after[...]').
    return isinstance(part, str) and ("[" in part or part in {"int", "float", "str", "bool"})


def _nearest_line(loc: Loc, lines: dict[Loc, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _dotted(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in loc).replace(".[", "[")


def _fields_at(schema: type, loc: Loc) -> list[str]:
    """Field names of the model reached by following `loc` from `schema`."""
    current: Any = schema
    for part in loc:
        current = _model_in(current)
        if current is None:
            return []
        if isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[0] if args else None
    model = _model_in(current)
    return sorted(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated, list, tuple):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
