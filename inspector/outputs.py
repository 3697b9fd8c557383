"""Output files that never cost the user a file: checked first, written last, renamed into place.

Every file inspector writes for the user (trace --out, graph -o, .inspector/last-trace.json)
goes through here:
1. `check_output(path, inputs)` runs before any work: an output that names one of the run's
   inputs (the net, the weights, an --input array), a folder, or a place where no file can be
   made (a missing folder, a path under a file, a read-only folder, /proc: it tries, with a
   temporary file it removes) is refused with exit 2, so nothing is read, run or truncated.
2. `replacing(path)` hands the writer a temporary path in the output's own folder and renames it
   onto the output only when the writer returns; if the writer fails, the temporary file is
   removed and an existing output is left as it was. `write_output` and `OutputStream` (a
   text stream that creates its temporary file at its first write, for events streamed while a
   net runs) are built on it.
An existing output that is not a regular file (/dev/stdout, a FIFO, a terminal) is written in
place, since renaming onto it would replace the device. Any OS failure (a read-only folder,
/proc, a full disk) is an OutputError: exit 2, the path and the OS's reason.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from .errors import InputError

OUTPUT_REMEDY = "Write the output somewhere else (a folder that exists and that you can write to)."


class OutputError(InputError):
    """An output file that cannot be written, with the path and the OS's reason."""

    def __init__(self, path: str | os.PathLike, reason: str, remedy: str = OUTPUT_REMEDY):
        super().__init__(f"cannot write {path}: {reason}.", remedy)
        self.path = str(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def _is_special(path: Path) -> bool:
    """An existing output that is not a regular file (a device, a FIFO, /dev/stdout): written in place."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """The output path, refused (exit 2) when it names an input, a folder, or a place no file can be made."""
    output = Path(path)
    for given in inputs:
        if given is not None and _same_file(output, Path(given)):
            raise InputError(f"the output {output} is also an input of this run ({given}); it would be overwritten.",
                             "Give --out/-o a new file name.")
    if output.is_dir():
        raise OutputError(output, "it is a folder", "Give a file name, e.g. " + str(output / "out.json"))
    if _is_special(output):
        return output
    if output.exists() and not os.access(output, os.W_OK):  # a rename would replace it anyway: ask first
        raise OutputError(output, "the file is read-only", "Make it writable, or write the output elsewhere.")
    folder = Path(os.path.realpath(output)).parent
    if not folder.exists():
        raise OutputError(output, f"folder {folder} does not exist",
                          "Create the folder, or write the output elsewhere.")
    if not folder.is_dir():
        raise OutputError(output, f"{folder} is not a folder", OUTPUT_REMEDY)
    Replacement(output).discard()  # a file can be made there (not read-only, not /proc): known before the run
    return output


def _new_file_mode(target: Path) -> int:
    """The mode `open(target, "w")` would give: the existing file's, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class Replacement:
    """A temporary file beside an output, to be renamed onto it (commit) or removed (discard)."""

    def __init__(self, path: str | os.PathLike):
        self.output = Path(path)
        self.in_place = _is_special(self.output)
        if self.in_place:
            self.temp = self.output
            return
        # a symlinked output keeps its link: the file it names is replaced
        self.target = Path(os.path.realpath(self.output))
        try:
            fd, temp_name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
            os.fchmod(fd, _new_file_mode(self.target))
            os.close(fd)
        except OSError as exc:
            raise OutputError(self.output, _reason(exc)) from None
        self.temp = Path(temp_name)

    def commit(self) -> None:
        if self.in_place:
            return
        try:
            os.replace(self.temp, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(self.output, _reason(exc)) from None

    def discard(self) -> None:
        if not self.in_place:
            with contextlib.suppress(OSError):
                self.temp.unlink()


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path`; renamed onto `path` when the block ends normally, removed if it raises."""
    replacement = Replacement(path)
    try:
        yield replacement.temp
    except OSError as exc:
        replacement.discard()
        raise OutputError(path, _reason(exc)) from None
    except BaseException:
        replacement.discard()
        raise
    replacement.commit()


def write_output(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text or bytes to path atomically (an existing file is replaced only by the complete new one)."""
    with replacing(path) as temp:
        try:
            if isinstance(data, bytes):
                temp.write_bytes(data)
            else:
                with open(temp, "w", encoding="utf-8") as stream:
                    stream.write(data)
        except OSError as exc:
            raise OutputError(path, _reason(exc)) from None
    return Path(path)


class OutputStream:
    """A text stream onto an output file: the temporary file is made at the first write, renamed by commit().

    Used as a context manager: leaving the block normally commits, an exception discards (an
    existing output is then untouched). A write that fails (a full disk) raises OutputError.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._replacement: Replacement | None = None
        self._stream: IO[str] | None = None

    def _open(self) -> IO[str]:
        if self._stream is None:
            self._replacement = Replacement(self.path)
            try:
                self._stream = open(self._replacement.temp, "w", encoding="utf-8")  # noqa: SIM115 - open until commit()
            except OSError as exc:
                self._replacement.discard()
                raise OutputError(self.path, _reason(exc)) from None
        return self._stream

    def write(self, text: str) -> int:
        stream = self._open()
        try:
            return stream.write(text)
        except OSError as exc:
            raise OutputError(self.path, _reason(exc)) from None

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except OSError as exc:
                raise OutputError(self.path, _reason(exc)) from None

    def isatty(self) -> bool:
        return False

    def commit(self) -> None:
        """Finish the file and put it in place (an empty file if nothing was written)."""
        stream = self._open()
        replacement = self._replacement
        assert replacement is not None  # _open made it
        self._stream = self._replacement = None
        try:
            stream.close()
        except OSError as exc:
            replacement.discard()
            raise OutputError(self.path, _reason(exc)) from None
        replacement.commit()

    def discard(self) -> None:
        """Drop what was written; an existing output stays as it was."""
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
        if self._replacement is not None:
            self._replacement.discard()
        self._stream = self._replacement = None

    def __enter__(self) -> OutputStream:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
