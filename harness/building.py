"""Things the harness builds itself on first use with `make` (the QEMU firmware, the cycle
plugin): rebuilt when the tools are here (a no-op when fresh), else the existing product."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from harness.errors import ConfigError, InfrastructureError


def make(directory: Path, product: Path, what: str, compiler: str, hint: str, timeout: float,
         args: Sequence[str] = ()) -> Path:
    """`make -C directory ARGS`, which builds `product`; ConfigError naming `hint` when it cannot."""
    if shutil.which(compiler) is None or shutil.which("make") is None:
        if product.is_file():
            return product
        raise ConfigError(f"{product} is missing and cannot be built: no {compiler}/make; {hint}")
    try:
        done = subprocess.run(["make", "-C", str(directory), *args], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"building {product} took more than {timeout:g} s") from None
    if done.returncode != 0 or not product.is_file():
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise ConfigError(f"building {what} failed ({hint}?): {' | '.join(tail)}")
    return product
