"""grader.kubebatch: grouping kube checks into kubectl calls and cutting the output back (pure)."""
from types import SimpleNamespace

from grader import kubebatch
from grader.checks import evaluate
from grader.model import Check
from grader.transport.base import CommandResult

INV = SimpleNamespace(kubectl="kubectl", kubeconfig=None)
N = "abc123"


def kube(index, resource, name, ns=None, jsonpath=None, **extra):
    target = {"resource": resource, "name": name, **({"namespace": ns} if ns else {}), **extra}
    expect = {"jsonpath": jsonpath, "value": "x"} if jsonpath else {}
    return Check(task_id="t", index=index, name=f"c{index}", kind="kube", host="controlplane",
                 target=target, expect=expect, timeout=10)


def test_concatenable_templates():
    assert kubebatch.concatenable('{.spec.containers[?(@.name=="a}")].image} {.status.phase}')
    assert not kubebatch.concatenable("{.spec")                     # unclosed: alone it is an error
    assert not kubebatch.concatenable("{range .items[*]}{.x}{end}")
    assert not kubebatch.concatenable('{.a}\\n')
    assert not kubebatch.concatenable("@@x{.a}")


def test_groups_by_namespace_and_splits_name_clashes():
    checks = [kube(0, "pod", "web", "a", "{.status.phase}"), kube(1, "pod", "web", "a", "{.spec.nodeName}"),
              kube(2, "service", "web", "a"), kube(3, "secret", "s", "a", "{.data}"),
              kube(4, "pod", "p", "b", "{.x}"), kube(5, "pod", "q", "a", "{.x}", selector="app=x"),
              Check(task_id="t", index=6, name="r", kind="run", host="controlplane", target="true")]
    p = kubebatch.plan(checks, N)
    # service/web clashes with pod/web: a group of its own, and a group of one saves nothing
    assert [[(o.resource, o.name, [k for k, _ in o.checks]) for o in g.objects] for g in p.groups] == [
        [("pod", "web", ["t#0", "t#1"]), ("secret", "s", ["t#3"])]]
    assert p.groups[0].namespace == "a"
    # namespace b's single check, the selector and the run check are not batched
    assert p.keys == {"t#0", "t#1", "t#3"}


def test_one_object_template_is_the_checks_side_by_side():
    p = kubebatch.plan([kube(0, "pod", "web", "a", "{.a}"), kube(1, "pod", "web", "a", "{.b} {.c}")], N)
    call = kubebatch.kubectl_call(p.groups[0], N, INV)
    assert call == ("kubectl get pod/web -n a --request-timeout=9s "
                    "-o 'jsonpath=@@abc123:0:0@@{.a}@@abc123:0:1@@{.b} {.c}@@abc123:0:e@@'")


def test_several_objects_are_picked_from_the_list_by_name():
    p = kubebatch.plan([kube(0, "pod", "web", "a", "{.a}"), kube(1, "secret", "s", "a")], N)
    assert kubebatch.template(p.groups[0], N) == (
        '{range .items[?(@.metadata.name=="web")]}@@abc123:0:0@@{.a}@@abc123:0:e@@{end}'
        '{range .items[?(@.metadata.name=="s")]}@@abc123:1:0@@@@abc123:1:e@@{end}')


def framed(p, n, rc, out, err):
    s = lambda part: kubebatch.section(p.nonce, n, part)
    return f"{s('r')}{rc}{s('o')}{out}{s('e')}{err}{s('z')}"


def test_split_gives_each_check_what_its_own_call_gives():
    checks = [kube(0, "pod", "web", "a", "{.a}"), kube(1, "pod", "web", "a", "{.b}"), kube(2, "secret", "s", "a"),
              kube(3, "configmap", "gone", "a", "{.data}")]
    p = kubebatch.plan(checks, N)
    out = "@@abc123:0:0@@Running@@abc123:0:1@@ x y @@abc123:0:e@@@@abc123:1:0@@@@abc123:1:e@@"
    err = 'Error from server (NotFound): configmaps "gone" not found\n'
    got = kubebatch.split(p, framed(p, 0, 1, out, err))
    assert got == {"t#0": (0, "Running", ""), "t#1": (0, " x y ", ""), "t#2": (0, "", ""),
                   "t#3": (1, "", 'Error from server (NotFound): configmaps "gone" not found\n')}
    # the missing object's verdict and evidence are the ones of a call of its own
    r = CommandResult(host="controlplane", command="", exit_code=1, stdout="", stderr=got["t#3"][2], duration=0)
    o = evaluate(checks[3], r)
    assert (o.status, o.actual) == ("FAIL", "configmap/gone in namespace a not found")


def test_split_leaves_out_what_it_cannot_vouch_for():
    checks = [kube(0, "pod", "web", "a", "{.a}"), kube(1, "secret", "s", "a", "{.b}")]
    p = kubebatch.plan(checks, N)
    whole = "@@abc123:0:0@@1@@abc123:0:e@@@@abc123:1:0@@2@@abc123:1:e@@"
    assert len(kubebatch.split(p, framed(p, 0, 0, whole, ""))) == 2
    # a jsonpath error (any stderr but NotFound with a failing exit): every check alone
    assert kubebatch.split(p, framed(p, 0, 1, whole[:30], "error: error executing jsonpath ...")) == {}
    # an object kubectl said nothing about, a marker out of order, text after the last marker
    assert kubebatch.split(p, framed(p, 0, 0, "@@abc123:0:0@@1@@abc123:0:e@@", "")) == {}
    assert kubebatch.split(p, framed(p, 0, 0, "@@abc123:0:e@@@@abc123:0:0@@1", "")) == {}
    assert kubebatch.split(p, framed(p, 0, 0, whole + "junk", "")) == {}
    # a frame cut short
    assert kubebatch.split(p, framed(p, 0, 0, whole, "")[:-5]) == {}


def test_command_runs_every_group_at_once():
    checks = [kube(0, "pod", "a", "x", "{.a}"), kube(1, "pod", "b", "x", "{.a}"),
              kube(2, "pod", "a", "y", "{.a}"), kube(3, "pod", "b", "y", "{.a}")]
    cmd = kubebatch.command(kubebatch.plan(checks, N), INV)
    assert cmd.count(" &") == 2 and "\nwait\n" in cmd and cmd.endswith('rm -rf -- "$__kd"')
