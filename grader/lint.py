"""`grader lint`: everything that can be checked without touching a host.

The loader's problems (schema, unknown keys, files, duplicate ids, templates), then
each Kubernetes manifest (`*.yaml` files besides task.yaml, rendered with seed 0)
against the Kubernetes schemas, and each script and `run` command (rendered) with
shellcheck.

Everything found is a `grader.findings.Finding`: an ERROR (a problem) or a WARNING (a
tool that is not installed: lint did what it could).
"""
from __future__ import annotations

from grader.errors import GraderError
from grader.findings import Finding, from_error

MANIFEST_SUFFIXES = (".yaml", ".yml")


def lint(ref: str, *, inventory=None) -> list[Finding]:
    """Every finding for one pack: the loader's problems, else the manifests' and scripts'."""
    from grader.loader import lint_pack

    try:
        pack, problems = lint_pack(ref, inventory=inventory)
    except GraderError as exc:
        return [from_error(exc)]
    findings = [from_error(p) for p in problems]
    if pack is None or problems:
        return findings
    return findings + _external(pack, inventory)


def _external(pack, inventory) -> list[Finding]:
    from grader.inventory import killercoda_default
    from grader.lint_external import lint_manifests, lint_scripts
    from grader.templating import render_task

    inventory = inventory or killercoda_default()
    manifests, scripts = [], []
    for spec in pack.tasks:
        task = render_task(spec, seed=0, inventory=inventory)
        for step in task.setup + task.solution + task.reset:
            name = f"{spec.dir / step.source}" if step.source else f"{spec.file} {step.label}.run"
            if step.kind == "copy" and step.source.endswith(MANIFEST_SUFFIXES):
                manifests.append((name, step.command))
            elif step.kind in ("script", "run"):
                scripts.append((name, step.command))
        for check in task.checks:
            if check.kind == "script":
                scripts.append((f"{spec.dir / spec.data['checks'][check.index]['script']}", check.target))
            elif check.kind == "run":
                scripts.append((f"{spec.file} checks[{check.index}].run", check.target))
    seen, unique = set(), []
    for item in scripts:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    problems = []
    if manifests:
        problems += lint_manifests(manifests)
    if unique:
        problems += lint_scripts(unique)
    return problems
