"""Where grader keeps its state: $GRADER_HOME, else ~/.grader (the drill, its results and
history, the pack archive cache, the pack cache, the drill's connection holder)."""
from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRADER_HOME"


def grader_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".grader")
