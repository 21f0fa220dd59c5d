"""`grader lint`: everything that can be checked without touching a host.

The loader's problems (schema, unknown keys, files, duplicate ids and names, a near
miss naming a check that does not exist, templates), then alternatives and near misses
whose steps are the reference solution's (or each other's), then each Kubernetes
manifest (`*.yaml` files besides task.yaml, rendered with seed 0) against the Kubernetes
schemas, and each script and `run` command (rendered, alternatives' and near misses'
steps too) with shellcheck.

Everything found is a `grader.packs.findings.Finding`: an ERROR (a problem) or a WARNING (a
tool that is not installed: lint did what it could).
"""
from __future__ import annotations

from grader.errors import GraderError
from grader.inventory import killercoda_default
from grader.packs.findings import error, Finding, from_error
from grader.packs.lint_external import lint_manifests, lint_scripts
from grader.packs.loader import lint_pack
from grader.packs.templating import render_task

MANIFEST_SUFFIXES = (".yaml", ".yml")


def lint(ref: str, *, inventory=None) -> list[Finding]:
    """Every finding for one pack: the loader's problems, else the manifests' and scripts'."""
    try:
        pack, problems = lint_pack(ref, inventory=inventory)
    except GraderError as exc:
        return [from_error(exc)]
    findings = [from_error(p) for p in problems]
    if pack is None or problems:
        return findings
    return findings + _external(pack, inventory)


def _external(pack, inventory) -> list[Finding]:
    inventory = inventory or killercoda_default()
    manifests, scripts, problems = [], [], []
    for spec in pack.tasks:
        task = render_task(spec, seed=0, inventory=inventory)
        problems += _variants(spec, task)
        variant_steps = tuple(s for v in task.alternatives + task.near_misses for s in v.steps)
        for step in task.setup + task.solution + task.reset + variant_steps:
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
    if manifests:
        problems += lint_manifests(manifests)
    if unique:
        problems += lint_scripts(unique)
    return problems


def _variants(spec, task) -> list[Finding]:
    """An alternative or a near miss whose steps are the reference solution's (or another's) proves
    nothing: validate would only repeat the reference run."""
    def same(steps):
        return tuple((s.kind, s.command.strip(), s.host, s.to, s.mode) for s in steps)

    reference = same(task.solution)
    found, seen = [], {}
    for section, variants in (("alternatives", task.alternatives), ("near_misses", task.near_misses)):
        for i, variant in enumerate(variants):
            steps = same(variant.steps)
            place = f"{spec.file}:{spec.line(section, i, 'steps') or spec.line(section, i)}"
            what = "alternative" if section == "alternatives" else "near miss"
            if steps == reference:
                why = ("; give it the other way to do the task" if what == "alternative"
                       else ", so it cannot lose the checks it names")
                found.append(error(place, f"{section}[{i}].steps: {what} '{variant.name}' has the reference "
                                          f"solution's steps{why}"))
            elif steps in seen:
                found.append(error(place, f"{section}[{i}].steps: {what} '{variant.name}' has the same steps as "
                                          f"{seen[steps]}"))
            seen.setdefault(steps, f"{what} '{variant.name}'")
    return found
