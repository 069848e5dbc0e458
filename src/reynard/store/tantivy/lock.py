"""The one-writer rule: a process-wide advisory lock on the events directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from reynard.errors import WriterBusy


class WriterLock:
    """`flock` on `<events>/.writer.lock`; released by the kernel if the process dies, even by kill -9."""

    def __init__(self, directory: Path):
        self.path = directory / ".writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WriterBusy(
                "another process is writing to this event store", where=str(self.path.parent)
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
