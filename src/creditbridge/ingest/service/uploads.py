"""Uploaded files on their way to :func:`ingest_batch`: copied to a temporary folder under their
own extension, and swept when a killed server left theirs behind.

An upload whose header is checked first is *held* between the check and the provider's
confirmation: its folder carries a random token (``creditbridge-upload-<pid>-held<token>``) and a
small JSON file naming who uploaded it, and is removed when the delivery is applied, when it is
abandoned past :data:`HOLD_SECONDS`, or by the start-up sweep once its process is gone. The
folders live on the machine's temporary disk: several web workers of one node share it; workers
on several machines need sticky sessions for the page upload (the API applies in one step)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

UPLOAD_PREFIX: Final = "creditbridge-upload-"
"""Every upload's folder is ``<temp>/creditbridge-upload-<pid>-<random>``: the process id says
whether its owner still runs (see :func:`sweep_stale_uploads`)."""

KNOWN_SUFFIXES: Final = (".csv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".ndjson")

HOLD_SECONDS: Final = 2 * 3600
"""A held upload not confirmed within this time is removed (the provider uploads it again)."""
_HELD: Final = "held"
_TOKEN_HEX: Final = 32

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


# ---------------------------------------------------------------- held uploads


@dataclass(frozen=True)
class HeldUpload:
    """An upload waiting for its provider's confirmation."""

    token: str
    path: Path
    filename: str


def hold_upload(data: IO[bytes], filename: str | None, *, owner: str) -> HeldUpload:
    """Copy an upload to a folder of its own that outlives the request; ``owner`` (the actor's
    kind and id) must present the token again to use it. Abandoned holds are removed first."""
    sweep_abandoned_holds()
    token = secrets.token_hex(_TOKEN_HEX // 2)
    folder = Path(tempfile.gettempdir()) / f"{UPLOAD_PREFIX}{os.getpid()}-{_HELD}{token}"
    folder.mkdir(mode=0o700)
    name = filename or "upload.csv"
    path = folder / upload_name(name)
    with path.open("wb") as out:
        shutil.copyfileobj(data, out, length=1 << 20)
    (folder / "held.json").write_text(json.dumps({"owner": owner, "filename": name}))
    return HeldUpload(token, path, name)


def get_held_upload(token: str, *, owner: str) -> HeldUpload | None:
    """The held upload named by ``token`` if ``owner`` holds it; None when it is gone (confirmed,
    abandoned, swept) or is someone else's."""
    if len(token) != _TOKEN_HEX or any(c not in "0123456789abcdef" for c in token):
        return None
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{UPLOAD_PREFIX}*-{_HELD}{token}"):
        try:
            meta = json.loads((folder / "held.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("owner") != owner:
            return None
        files = [p for p in folder.iterdir() if p.name.startswith("upload")]
        return (
            HeldUpload(token, files[0], str(meta.get("filename") or files[0].name))
            if files
            else None
        )
    return None


def release_held_upload(held: HeldUpload) -> None:
    shutil.rmtree(held.path.parent, ignore_errors=True)


def sweep_abandoned_holds(folder: Path | None = None, *, now: float | None = None) -> int:
    """Remove held uploads older than :data:`HOLD_SECONDS`, whoever's they are."""
    root = folder or Path(tempfile.gettempdir())
    moment = time.time() if now is None else now
    removed = 0
    for path in root.glob(f"{UPLOAD_PREFIX}*-{_HELD}*"):
        try:
            old = moment - path.stat().st_mtime > HOLD_SECONDS
        except OSError:
            continue
        if old and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed += not path.exists()
    return removed
