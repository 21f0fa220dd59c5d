"""Killercoda interoperability: `grader import killercoda` and `grader export killercoda`.

- `scenario.py`: index.json read with every key's type checked, and the files it names
  (refused when missing or when a link leaves the scenario folder);
- `importer.py`: a killercoda (or Katacoda) scenario folder -> a pack (`import_scenario`),
  with `markdown.py` (solutions and hints out of the texts), `assets.py` (killercoda's asset
  semantics), `scripts.py` (scripts kept byte for byte, timeouts from their own waits);
- `restore.py`: the import of a scenario grader exported: the original tasks, with the edits
  made on killercoda applied;
- `exporter.py`: a pack -> a scenario folder (`export_pack`), with `verify_runtime.py`, the
  program of its verify scripts;
- `common.py`: what they share (the report, names, YAML, the staged output folder).

An export keeps the original pack in `grader/` with `export.json` (hashes of the generated
files and of the parts of every text), so that an import restores every task.
"""
from grader.killercoda.common import (EXPORT_FILE, FORMAT, IMAGE, INDEX, MARKER_DIR, Report, dump_yaml,  # noqa: F401
                                      sha256_text, slug)
from grader.killercoda.exporter import export_pack
from grader.killercoda.importer import import_scenario

__all__ = ["Report", "slug", "dump_yaml", "sha256_text", "export_pack", "import_scenario",
           "FORMAT", "IMAGE", "INDEX", "MARKER_DIR", "EXPORT_FILE"]
