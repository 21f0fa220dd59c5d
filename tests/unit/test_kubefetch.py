"""grader.engine.kubefetch: kube checks answered from one listing (pure logic, no cluster).

The resource table is `kubectl api-resources` as recorded on the kube lab (v1.35.4 apiserver,
kubectl v1.36.4).  That the answers equal kubectl's own, check by check, on real tasks is
tested on the kube lab (tests/integration/test_kube_packs.py, GRADER_KUBE_VERIFY)."""
from pathlib import Path

import pytest

from grader.engine import kubefetch
from grader.engine.checks import evaluate
from grader.packs.model import Check
from grader.transport.base import CommandResult

TABLE = (Path(__file__).parent.parent / "data" / "kube" / "api-resources.txt").read_text()
RES = kubefetch.parse_resources(TABLE)


def kube(target, **expect):
    return Check(task_id="t", index=0, name="c", kind="kube", host="controlplane", target=target, expect=expect)


def pod(name, ns="web", labels=None, phase="Running"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "status": {"phase": phase}}


LISTING = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
    pod("a", labels={"app": "web", "tier": "front"}),
    pod("b", labels={"app": "web"}, phase="Pending"),
    pod("a", ns="other", labels={"app": "web"}),
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "web"},
     "spec": {"replicas": 3}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node01"}, "spec": {"unschedulable": True}},
]}


def test_the_resource_table_is_read_by_its_columns():
    assert {r.kind for r in RES["po"]} == {"Pod"}
    assert RES["deploy"] == RES["deployments.apps"] == RES["deployment"] == RES["deployment.apps"]
    assert [r.namespaced for r in RES["nodes"]] == [False]
    assert {r.group for r in RES["events"]} == {"", "events.k8s.io"}    # ambiguous: kubectl's to resolve
    assert RES["secrets"][0].shortnames == ()


def test_an_unexpected_table_is_not_guessed_at():
    assert kubefetch.parse_resources("") is None
    assert kubefetch.parse_resources("NAME KIND\npods Pod\n") is None
    assert kubefetch.parse_resources(TABLE.replace("true ", "yes  ", 1)) is None


def test_a_named_object_is_found_by_kind_group_namespace_and_name():
    a = kubefetch.answer(kube({"resource": "deploy", "name": "a", "namespace": "web"}), LISTING, RES)
    assert (a.exit_code, a.stdout) == (0, "deployment.apps/a\n")
    a = kubefetch.answer(kube({"resource": "pods", "name": "a", "namespace": "other"}), LISTING, RES)
    assert (a.exit_code, a.stdout) == (0, "pod/a\n")


def test_a_missing_object_answers_as_kubectl_does_and_is_judged_not_found():
    check = kube({"resource": "pod", "name": "zz", "namespace": "web"})
    a = kubefetch.answer(check, LISTING, RES)
    assert a.exit_code == 1
    r = CommandResult(host="controlplane", command="", exit_code=a.exit_code, stdout=a.stdout, stderr=a.stderr,
                      duration=0.0)
    o = evaluate(check, r)
    assert (o.status, o.actual) == ("FAIL", "pod/zz in namespace web not found")
    gone = kube({"resource": "pod", "name": "zz", "namespace": "web"}, exists=False)
    assert evaluate(gone, r).status == "PASS"


def test_a_cluster_scoped_object_ignores_the_namespace_as_kubectl_does():
    a = kubefetch.answer(kube({"resource": "no", "name": "node01", "namespace": "web"}), LISTING, RES)
    assert (a.exit_code, a.stdout) == (0, "node/node01\n")


@pytest.mark.parametrize("target", [
    {"resource": "pod", "name": "a"},                              # namespaced, no namespace: the kubeconfig's
    {"resource": "events", "namespace": "web"},                     # two groups
    {"resource": "widgets", "namespace": "web"},                    # unknown to the table
    {"resource": "Pod", "name": "a", "namespace": "web"},           # not a spelling the table has
    {"resource": "pod", "name": "a", "namespace": "web", "selector": "app=web"},
    {"resource": "pod", "namespace": "web", "selector": "app=web,"},
    {"resource": "pod", "namespace": "web", "selector": "app in web"},
    {"resource": "pod", "namespace": "web", "selector": "x" * 64 + "=1"},
])
def test_what_is_not_certain_goes_to_kubectl_itself(target):
    assert kubefetch.answer(kube(target), LISTING, RES) is None


@pytest.mark.parametrize("selector, names", [
    ("app=web", ["a", "b"]), ("app==web", ["a", "b"]), ("tier!=front", ["b"]), ("tier", ["a"]),
    ("!tier", ["b"]), ("app in (web, db)", ["a", "b"]), ("tier notin (front)", ["b"]),
    ("app=web,tier=front", ["a"]), ("app=db", []),
])
def test_label_selectors_pick_what_the_apiserver_would(selector, names):
    a = kubefetch.answer(kube({"resource": "pods", "namespace": "web", "selector": selector}), LISTING, RES)
    assert a.stdout == "".join(f"pod/{n}\n" for n in names)
    check = kube({"resource": "pods", "namespace": "web", "selector": selector})
    r = CommandResult(host="controlplane", command="", exit_code=a.exit_code, stdout=a.stdout, stderr=a.stderr,
                      duration=0.0)
    assert evaluate(check, r).status == ("PASS" if names else "FAIL")


def test_a_jsonpath_is_evaluated_on_the_object_or_the_selectors_list():
    a = kubefetch.answer(kube({"resource": "deployment", "name": "a", "namespace": "web"},
                              jsonpath="{.spec.replicas}", value="3"), LISTING, RES)
    assert a.stdout == "3"
    a = kubefetch.answer(kube({"resource": "po", "namespace": "web", "selector": "app=web"},
                              jsonpath="{.kind}:{.items[*].status.phase}", value="x"), LISTING, RES)
    assert a.stdout == "List:Running Pending"


def test_only_checks_with_a_jsonpath_it_evaluates_are_grouped():
    assert kubefetch.groupable(kube({"resource": "pod", "name": "a"}))
    assert kubefetch.groupable(kube({"resource": "pod", "name": "a"}, jsonpath="{.status.phase}", value="x"))
    assert not kubefetch.groupable(Check(task_id="t", index=0, name="c", kind="run", host="controlplane",
                                         target="true"))


def test_the_listing_command_names_each_resource_once_and_quotes():
    cmd = kubefetch.listing_command("kubectl", ["pods", "deploy", "pods", "a b"], 9)
    assert cmd == "kubectl get 'a b,deploy,pods' -A --request-timeout=9s -o json"
    assert kubefetch.parse_listing("not json") is None
    assert kubefetch.parse_listing('{"items": 3}') is None
