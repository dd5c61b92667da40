"""`harness run --shard K/N`: a deterministic split of a suite's cases across N CI jobs.

The unit of a shard is a model family, not a single variant: the accuracy delta of a variant
is measured against its family's reference variant in the same run, so a family is never
split. Families are dealt, largest first (ties by name), to the shard with the fewest cases
so far (ties by shard number): the same suite gives the same split on every machine, every
case lands in exactly one shard, and shards stay balanced. With more shards than families
some shards are empty, which is not an error.
"""

from __future__ import annotations

import re
from typing import Sequence, TypeVar

from harness.errors import ConfigError

T = TypeVar("T")

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse(spec: str) -> tuple[int, int]:
    """'3/8' -> (3, 8); shards are numbered from 1."""
    found = _SPEC.match(spec)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise ConfigError(f"--shard {spec!r}: expected K/N with 1 <= K <= N, e.g. 3/8")
    return int(found[1]), int(found[2])


def assign(families: Sequence[str], count: int) -> dict[str, int]:
    """family -> shard number (1-based), for a list with one entry per case."""
    sizes: dict[str, int] = {}
    for family in families:
        sizes[family] = sizes.get(family, 0) + 1
    load = [0] * count
    shard_of = {}
    for family in sorted(sizes, key=lambda f: (-sizes[f], f)):
        target = min(range(count), key=lambda i: (load[i], i))
        shard_of[family] = target + 1
        load[target] += sizes[family]
    return shard_of


def select(items: Sequence[T], families: Sequence[str], spec: tuple[int, int]) -> list[T]:
    """The items (one per case, `families[i]` its family) that belong to shard `spec`."""
    index, count = spec
    shard_of = assign(families, count)
    return [item for item, family in zip(items, families) if shard_of[family] == index]
