"""Killercoda interoperability: `grader import killercoda` and `grader export killercoda`.

- `importer.py`: a killercoda scenario folder -> a pack (`import_scenario`);
- `exporter.py`: a pack -> a scenario folder for `kubernetes-kubeadm-2nodes` (`export_pack`),
  with its generated background and verify scripts and the verify scripts' embedded runtime;
- `common.py`: what both use (the report, names, YAML, the output folder, the constants).

An export keeps the original pack in `grader/` with `export.json` (hashes of the generated
files), so that an import restores every task whose killercoda files are unchanged exactly.
"""
from grader.killercoda.common import (EXPORT_FILE, FORMAT, IMAGE, INDEX, MARKER_DIR, Report, dump_yaml,  # noqa: F401
                                      sha256_text, slug)
from grader.killercoda.exporter import export_pack
from grader.killercoda.importer import import_scenario

__all__ = ["Report", "slug", "dump_yaml", "sha256_text", "export_pack", "import_scenario",
           "FORMAT", "IMAGE", "INDEX", "MARKER_DIR", "EXPORT_FILE"]
