"""Uploaded files on their way to :func:`ingest_batch`: copied to a temporary folder under their
own extension, and swept when a killed server left theirs behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

UPLOAD_PREFIX: Final = "creditbridge-upload-"
"""Every upload's folder is ``<temp>/creditbridge-upload-<pid>-<random>``: the process id says
whether its owner still runs (see :func:`sweep_stale_uploads`)."""

KNOWN_SUFFIXES: Final = (".csv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".ndjson")

ORPHAN_AGE_SECONDS: Final = 24 * 3600
"""A folder whose name carries no process id (an older release's) is removed past this age."""


def upload_name(filename: str | None) -> str:
    """The name the copy is saved under: ``upload`` plus the client's extension when it is one
    the readers know. openpyxl opens a workbook by path only when the name ends in .xlsx/.xlsm,
    and the readers choose the format by the extension, so the extension must survive; nothing
    else of a client's file name reaches the file system."""
    suffix = Path((filename or "").replace("\\", "/")).suffix.lower()
    return "upload" + (suffix if suffix in KNOWN_SUFFIXES else "")


@contextlib.contextmanager
def saved_upload(data: IO[bytes], filename: str | None) -> Iterator[Path]:
    """Copy an uploaded stream to a temporary file (never held in memory), removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-") as folder:
        path = Path(folder) / upload_name(filename)
        with path.open("wb") as out:
            shutil.copyfileobj(data, out, length=1 << 20)
        yield path


def sweep_stale_uploads(folder: Path | None = None) -> int:
    """Remove upload folders whose process is gone (a server killed with SIGKILL cannot clean up
    after itself); a running server's, or another node's on the same machine, are kept. Returns
    how many were removed."""
    root = folder or Path(tempfile.gettempdir())
    removed = 0
    for path in root.glob(f"{UPLOAD_PREFIX}*"):
        if not path.is_dir() or path.is_symlink() or not _stale(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    return removed


def _stale(path: Path) -> bool:
    owner = path.name[len(UPLOAD_PREFIX) :].split("-", 1)[0]
    if not owner.isdigit():
        try:
            return time.time() - path.stat().st_mtime > ORPHAN_AGE_SECONDS
        except OSError:
            return False
    return not _alive(int(owner))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # no process has such a number
    except PermissionError:
        return True  # another user's process
    return True
