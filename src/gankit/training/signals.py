"""Ctrl-C and SIGTERM ask the loop to stop after the current step, so it can save a checkpoint
and exit cleanly; a second Ctrl-C interrupts at once."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class StopFlag:
    """Set by a signal; read by the loop after every step."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __bool__(self) -> bool:
        return self.reason is not None


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Install SIGINT/SIGTERM handlers that set ``flag`` (main thread only; elsewhere, as in
    some notebook kernels, signals keep their default behaviour)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user really wants out
        flag.reason = signal.Signals(signum).name

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
