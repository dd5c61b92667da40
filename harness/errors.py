"""The one error tree of edge-harness.

    HarnessError                      base; str() is a one-line message for the user
    ├── ConfigError                   bad profile/suite/report/CLI input (exit 2); names file:line:field
    ├── StoreError                    results store unreachable, unwritable or inconsistent (exit 2)
    ├── InfrastructureError           the lab failed, not the model: timeout, disconnect,
    │   │                             framing error, board that does not answer. Retried.
    │   └── DeviceTimeout             a deadline expired while waiting on a board
    ├── DeviceError                   the board ran but cannot do this (arena too small,
    │                                 runtime missing). A result, not a fault; never retried.
    └── ModelError                    the model itself is bad or unsupported (corrupt .tflite,
                                      unsupported operator, dataset shape mismatch). A result.

Low-level errors (OSError, paramiko, pyserial, sqlite) are translated into this tree at the
boundary where they happen, so callers never catch a library's exceptions.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 1


class ConfigError(HarnessError):
    exit_code = 2


class StoreError(HarnessError):
    exit_code = 2


class InfrastructureError(HarnessError):
    exit_code = 3


class DeviceTimeout(InfrastructureError):
    pass


class DeviceError(HarnessError):
    exit_code = 1


class ModelError(HarnessError):
    exit_code = 1
