"""Ctrl-C and SIGTERM during a run: the first stops between cases, the second stops at once.

The measurement agent and the emulators run in process groups of their own, so a terminal's
Ctrl-C (SIGINT to its foreground process group) reaches the harness only, and the harness decides:

    first SIGINT or SIGTERM   abandon the case in progress (its agent is terminated; nothing of
                              it is stored), stop between cases, close the boards, mark the run
                              interrupted, print how to resume it
    second SIGINT             stop now: kill every child the harness started and exit 130

A case ended by the harness's own stop is never a result: `raise_if_requested()` turns whatever
the abandoned measurement ended with into `Interrupted`, which nothing below the CLI catches.

Out of the terminal's group, a child would outlive a `kill -9` of the harness (an agent burning
CPU, an emulator running until someone kills it). So on Linux every child gets PR_SET_PDEATHSIG
(SIGKILL when its parent dies). The kernel's "parent" is the *thread* that forked, and boards are
driven from worker threads (harness/lab/fleet.py) that end before the process does; so every child is
forked by one spawner thread that lives as long as the process, and then dies exactly with it.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from harness.errors import HarnessError

EXIT_CODE = 130  # 128 + SIGINT, as shells report a Ctrl-C'd command

_stop = threading.Event()
_lock = threading.Lock()
_abandon: set[subprocess.Popen[bytes]] = set()  # terminated on the first stop: the case's agent
_children: set[subprocess.Popen[bytes]] = set()  # killed on the second: emulators too
_local = threading.local()


class Interrupted(HarnessError):
    """The user (or a service manager) stopped the run; what was in progress is not a result."""

    exit_code = EXIT_CODE


def requested() -> bool:
    return _stop.is_set()


def raise_if_requested(what: str = "the case in progress") -> None:
    if _stop.is_set():
        raise Interrupted(f"stopped by an interrupt; {what} was abandoned and not stored")


def reset() -> None:
    """A new run in this process (tests call the CLI in-process) starts without a stop."""
    _stop.clear()


def request_stop() -> None:
    _stop.set()
    with _lock:
        victims = list(_abandon)
    for proc in victims:
        _signal_group(proc, signal.SIGTERM)


@contextmanager
def abandonable() -> Iterator[None]:
    """Commands started inside (on this thread) are measurement work: the first stop ends them."""
    before = getattr(_local, "abandonable", False)
    _local.abandonable = True
    try:
        yield
    finally:
        _local.abandonable = before


def abandoning() -> bool:
    """True when this thread's work in progress is to be dropped now (a stop was requested)."""
    return _stop.is_set() and getattr(_local, "abandonable", False)


def popen(argv: list[str], *, session: bool = False, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen in a process group (`session`: a session) of its own, killed when the harness dies,
    tracked so that a stop can end it (see `forget`)."""
    own = {"start_new_session": True} if session else {"process_group": 0}
    proc = _spawn(argv, **own, **kwargs)
    with _lock:
        _children.add(proc)
        if getattr(_local, "abandonable", False):
            _abandon.add(proc)
    if abandoning():  # the stop came while it started
        _signal_group(proc, signal.SIGTERM)
    return proc


# ---------------------------------------------------------------- dying with the harness

_PR_SET_PDEATHSIG = 1
_spawns: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[tuple[bool, Any]]]] = queue.SimpleQueue()
_spawner: threading.Thread | None = None


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None  # elsewhere a child can outlive a kill -9 of the harness (docs/running.md)
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child must not dlopen
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child, between fork and exec: no locks, no allocation to speak of
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the harness died before the prctl took effect
            os._exit(1)
    return preexec


def _spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen, forked by the spawner thread (see the module's docstring)."""
    global _spawner
    reply: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    start = lambda: subprocess.Popen(argv, preexec_fn=_die_with(os.getpid()), **kwargs)  # noqa: E731
    with _lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_serve_spawns, name="spawner", daemon=True)
            _spawner.start()
    _spawns.put((start, reply))
    ok, value = reply.get()
    if not ok:
        raise value
    return value


def _serve_spawns() -> None:
    while True:  # never returns: its children's PR_SET_PDEATHSIG fires when this thread ends
        start, reply = _spawns.get()
        try:
            reply.put((True, start()))
        except BaseException as exc:  # OSError (no such program) and the like: the caller's to raise
            reply.put((False, exc))


def forget(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _abandon.discard(proc)
        _children.discard(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """The child and whatever it started (its process group)."""
    _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def handling(resume_hint: Callable[[], str], say: Callable[[str], None]) -> Iterator[None]:
    """SIGINT and SIGTERM handlers for the duration of a run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reset()

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if not _stop.is_set():
            say(f"{name}: abandoning the case in progress (it is not stored) and stopping; "
                "Ctrl-C again stops at once")
            request_stop()
            return
        say(f"{name} again: stopping now. Resume with: {resume_hint()}")
        with _lock:
            victims = list(_children)
        for proc in victims:
            kill_group(proc)
        sys.stderr.flush()
        os._exit(EXIT_CODE)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        if not _stop.is_set():  # once stopping, a second Ctrl-C still means "now" until the exit
            for sig, old in previous.items():
                signal.signal(sig, old)
