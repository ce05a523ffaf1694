"""The learned file (AGENT_LEARNED_FILE, JSON): proposals and accepted entries
(handoff/learned.py). The agent declares the accepted ones at start; the learning routes
(agent/learning_route.py) add proposals and decide on them.

Every change is a read, a change and a whole new file put in place by rename, under an
exclusive lock on a file beside it: two replicas sharing the file never lose each other's
change, and a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from handoff.learned import ENTRIES_LIMIT, InvalidEntry, LearnedEntry, as_document, read_entries

T = TypeVar("T")


class LearnedFileError(Exception):
    """The file cannot be read as a learned file; the message names it and what is wrong."""


def load(path: Path) -> list[LearnedEntry]:
    """The file's entries; none when it does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise LearnedFileError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return read_entries(json.loads(text))
    except json.JSONDecodeError as error:
        raise LearnedFileError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    except InvalidEntry as invalid:
        raise LearnedFileError(f"{path}: {invalid}") from None


class LearnedFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = lock_path.open("a")
        except OSError as error:
            raise LearnedFileError(
                f"{lock_path}: cannot be written ({error.strerror}); "
                "set AGENT_LEARNED_FILE to a file the agent may write"
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def entries(self) -> list[LearnedEntry]:
        return load(self.path)

    def change(self, edit: Callable[[list[LearnedEntry]], tuple[list[LearnedEntry], T]]) -> T:
        """Apply `edit` (entries -> new entries, result) to the file, whole, under the lock."""
        with self._locked():
            entries, result = edit(load(self.path))
            if len(entries) > ENTRIES_LIMIT:
                raise InvalidEntry(
                    f"The learned file holds {ENTRIES_LIMIT:,} entries at most; "
                    "remove rejected ones first."
                )
            try:
                self._write("".join([json.dumps(as_document(entries), indent=2), "\n"]))
            except OSError as error:
                raise LearnedFileError(
                    f"{self.path}: cannot be written ({error.strerror}); "
                    "set AGENT_LEARNED_FILE to a file the agent may write"
                ) from None
            return result

    def _write(self, text: str) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
