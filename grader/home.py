"""Where grader keeps its state: $GRADER_HOME, else ~/.grader (the drill, its results and
history, the pack archive cache, the pack cache, the drill's connection holder), and how a
state file is written there (atomically).  Apart from the drill so that the holder and the
pack cache can use it without importing the drill's model."""
from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

HOME_ENV = "GRADER_HOME"


def grader_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".grader")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
