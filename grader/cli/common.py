"""Helpers shared by the command modules: options, pack/task references, output."""
from __future__ import annotations

import json
import os
import sys


def add_inventory(parser) -> None:
    parser.add_argument("-i", "--inventory", metavar="FILE",
                        help="inventory file (default: $GRADER_INVENTORY, ./grader-inventory.yaml, "
                             "then the killercoda layout)")
    parser.add_argument("--trust-on-first-use", action="store_true",
                        help="accept and record unknown SSH host keys (a changed key is still refused)")


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_seed(parser, default=0) -> None:
    parser.add_argument("--seed", type=int, default=default,
                        help=f"seed for the tasks' random params (default {default}); the same seed gives the same task")


def inventory_from(args):
    from grader.packs.packcache import resolve_inventory

    inv = resolve_inventory(getattr(args, "inventory", None))
    if getattr(args, "trust_on_first_use", False):
        inv = inv.with_trust_on_first_use()
    return inv


def split_ref(ref: str, task_opt: str | None = None):
    """PACK, PACK/TASK, or a task folder -> (pack ref, [task ids] or None)."""
    from pathlib import Path

    from grader.packs.packs import PACK_FILE, TASK_FILE

    path = Path(ref)
    tasks = [t for t in (task_opt or "").split(",") if t] or None
    if path.is_dir() and (path / TASK_FILE).is_file() and not (path / PACK_FILE).is_file():
        return str(path.parent), [path.name]
    if path.exists() or "/" not in ref.rstrip("/"):
        return ref, tasks
    head, _, tail = ref.rstrip("/").rpartition("/")
    return head, [tail]


def load(args, ref: str, task_opt: str | None = None, *, inventory=None):
    """(pack, [TaskSpec]) for a reference, with the inventory's facts for the trial render
    (from the pack cache while no file of the pack changed: grader.packs.packcache)."""
    from grader.packs import packcache

    pack_ref, ids = split_ref(ref, task_opt)
    pack = packcache.load(pack_ref, inventory=inventory or inventory_from(args))
    specs = [pack.task(i) for i in ids] if ids else list(pack.tasks)
    return pack, specs


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def emit_json(data) -> None:
    print(json.dumps(data, indent=2))


def progress(args):
    """A progress printer on stderr (silent with --json)."""
    if getattr(args, "json", False):
        return lambda message: None
    return lambda message: print(f"  .. {message}", file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got '{text}'")
    return value
