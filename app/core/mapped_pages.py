"""Give back the pages of a read-only memory-mapped model file that a process has touched.

The local embedding model reads its weights from a file it maps read-only (``mmap``), and every
page it reads stays in the process's resident set. Most of the file is the token-embedding table
(~54 MB of the 71 MB): a question reads one row per token, and the kernel maps the 64 KiB around
each row it faults in, so a burst of a hundred new questions leaves ~20-25 MB of the table resident
in every worker, and a long-running worker ends up with the whole file, counted once per worker.

``MADV_DONTNEED`` on such a mapping drops the process's page-table entries only: the file's pages
stay in the kernel's page cache (one copy, shared by every worker) and the next read maps them
again, a minor fault with no I/O and the same bytes (the mapping is read-only and private, so there
is nothing of the process's own to lose). :class:`MappedPages` does that once the model has
embedded a number of texts, so a worker keeps the model's hot pages, not every row it ever read.

Only the mappings the model's own load created are released (those that appeared while it loaded,
checked again in ``/proc/self/maps`` before each release), never a shared library's segments
(their read-only pages may have been written before they were protected). Linux only: elsewhere,
or when nothing was found, releasing does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
MADV_DONTNEED = 4
T = TypeVar("T")
Mapping = tuple[int, int, str]  # start, end, file


def read_only_mappings(files: Iterable[Path], maps: Path = Path("/proc/self/maps")) -> set[Mapping]:
    """This process's read-only, non-executable mappings of ``files``."""
    if sys.platform != "linux":
        return set()
    try:
        text = maps.read_text()
    except OSError:
        return set()
    names = {str(f.resolve()) for f in files}
    found = set()
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5] not in names or fields[1][:3] != "r--":
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        found.add((start, end, fields[5]))
    return found


class MappedPages:
    """Mappings of a loaded model's ``files``, to give back once the model has embedded ``every``
    texts since the last time. Build it with :meth:`around` the model's load."""

    def __init__(self, files: Iterable[Path], mappings: set[Mapping], every: int) -> None:
        self._files = list(files)
        self._mappings = mappings
        self._every = max(1, every)
        self._pending = 0
        self._batched = False  # a batch of several texts since the last release (a burst)
        self._madvise: Callable[[int, int, int], int] | None = None
        if mappings:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.madvise.restype = ctypes.c_int
            self._madvise = libc.madvise

    @classmethod
    def around(
        cls, load: Callable[[], T], files: Iterable[Path], every: int
    ) -> tuple[T, MappedPages]:
        """``load()`` and the mappings of ``files`` it created."""
        files = list(files)
        before = read_only_mappings(files)
        loaded = load()
        return loaded, cls(files, read_only_mappings(files) - before, every)

    @property
    def size(self) -> int:
        """Bytes of the mappings (0 when nothing was found)."""
        return sum(end - start for start, end, _ in self._mappings)

    def embedded(self, texts: int) -> None:
        """Count texts the model just embedded (in one call)."""
        self._pending += texts
        self._batched = self._batched or texts > 1

    def due(self, idle: bool = False) -> bool:
        """``every`` texts were embedded since the last release; or, once the model is ``idle``,
        any after a burst (the last batches of a burst leave their pages otherwise)."""
        if self._madvise is None or not self._pending:
            return False
        return self._pending >= self._every or (idle and self._batched)

    def release_if_due(self, idle: bool = False) -> bool:
        """Give the pages back when :meth:`due` (True then). Call it with the model's lock held:
        the model must not run meanwhile."""
        if not self.due(idle):
            return False
        self._pending = 0
        self._batched = False
        return self.release()

    def release(self) -> bool:
        if self._madvise is None:
            return False
        current = read_only_mappings(self._files) & self._mappings  # still the model's
        for start, end, _ in current:
            if self._madvise(start, end - start, MADV_DONTNEED) != 0:
                errno = ctypes.get_errno()
                log.warning("madvise failed (errno %d); the model's pages stay mapped", errno)
                self._madvise = None
                return False
        return bool(current)
