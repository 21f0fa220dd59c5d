"""Checks: the command a check sends, run for real by local bash, and its evaluation."""
import subprocess

from grader.engine.checks import command_for, evaluate
from grader.inventory import Inventory, HostSpec
from grader.packs.model import Check
from grader.engine.results import ERROR, FAIL, PASS
from grader.transport.base import CommandResult

INV = Inventory(hosts={"controlplane": HostSpec("controlplane")}, kubeconfig="/etc/kubernetes/admin.conf")


def check(kind, target, expect=None, **kw):
    return Check(task_id="t", index=0, name="c", kind=kind, host="controlplane", target=target,
                 expect=expect or {}, **kw)


def run_local(c, env=None):
    cmd = command_for(c, INV, env)
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
    return evaluate(c, CommandResult("controlplane", cmd, p.returncode, p.stdout, p.stderr, 0.0))


def test_file_check_reports_each_difference(tmp_path):
    f = tmp_path / "conf"
    f.write_text("mode: strict\n")
    f.chmod(0o640)
    ok = run_local(check("file", str(f), {"mode": "0640", "owner": "root", "type": "file",
                                          "content": {"contains": "strict"}}))
    assert ok.status == PASS
    bad = run_local(check("file", str(f), {"mode": "0600", "content": {"contains": "lax"}}))
    assert bad.status == FAIL
    assert "mode 0640" in bad.actual and "content 'mode: strict'" in bad.actual
    assert "mode 0600" in bad.expected and "contains 'lax'" in bad.expected


def test_file_absent_and_present(tmp_path):
    missing = tmp_path / "nope"
    assert run_local(check("file", str(missing), {"exists": False})).status == PASS
    out = run_local(check("file", str(missing)))
    assert out.status == FAIL and "does not exist" in out.actual
    (tmp_path / "d").mkdir()
    assert run_local(check("file", str(tmp_path / "d"), {"type": "directory"})).status == PASS


def test_file_path_with_shell_metacharacters(tmp_path):
    weird = tmp_path / "a b;$(touch x)"
    weird.write_text("ok")
    assert run_local(check("file", str(weird), {"content": "ok"})).status == PASS
    assert not (tmp_path / "x").exists()


def test_script_check_sees_params_as_environment():
    out = run_local(check("script", '[ "$NS" = "my ns" ]'), env={"NS": "my ns"})
    assert out.status == PASS


def test_run_check_evidence_names_what_failed():
    out = run_local(check("run", "echo NotReady", {"stdout": {"equals": "Ready"}}))
    assert out.status == FAIL and out.expected == "exit code 0; stdout equals 'Ready'"
    assert out.actual == "stdout 'NotReady'"


def test_sensitive_values_never_reach_the_evidence():
    out = run_local(check("run", "echo hunter2hunter2", {"stdout": {"equals": "s3cretvalue"}}, sensitive=True))
    assert out.status == FAIL
    assert "hunter2" not in out.actual + out.expected and "s3cret" not in out.actual + out.expected


def test_kube_command_is_real_kubectl_with_quoted_parts():
    c = check("kube", {"resource": "deployment", "name": "web;rm", "namespace": "ns"},
              {"jsonpath": "{.spec.replicas}", "value": 3})
    cmd = command_for(c, INV)
    assert cmd.startswith("kubectl --kubeconfig /etc/kubernetes/admin.conf get deployment 'web;rm' -n ns")
    assert cmd.endswith("-o 'jsonpath={.spec.replicas}'")


def kube_result(rc, out="", err=""):
    return CommandResult("controlplane", "kubectl ...", rc, out, err, 0.1)


def test_kube_not_found_is_a_fact_but_no_apiserver_is_an_error():
    c = check("kube", {"resource": "namespace", "name": "nginx-ns"})
    nf = kube_result(1, err='Error from server (NotFound): namespaces "nginx-ns" not found\n')
    assert evaluate(c, nf).status == FAIL
    gone = check("kube", {"resource": "namespace", "name": "nginx-ns"}, {"exists": False})
    assert evaluate(gone, nf).status == PASS
    refused = kube_result(1, err="The connection to the server 127.0.0.1:6443 was refused - did you specify "
                                 "the right host or port?\n")
    out = evaluate(c, refused)
    assert out.status == ERROR and "apiserver" in out.message
    assert evaluate(c, kube_result(127, err="kubectl: command not found")).status == ERROR


def test_kube_secret_value_decoded_and_hidden():
    c = check("kube", {"resource": "secret", "name": "s"},
              {"jsonpath": "{.data.POSTGRES_PASSWORD}", "value": "Tr0ub4dor&3", "decode": "base64"}, sensitive=True)
    good = evaluate(c, kube_result(0, "VHIwdWI0ZG9yJjM="))
    assert good.status == PASS and "Tr0ub4dor" not in good.actual + good.expected
    assert evaluate(c, kube_result(0, "d3Jvbmc=")).status == FAIL
    assert evaluate(c, kube_result(0, "%%%")).status == FAIL


def test_kube_selector_exists_means_at_least_one_object():
    c = check("kube", {"resource": "pod", "selector": "app=web"})
    assert evaluate(c, kube_result(0, "pod/web-1\n")).status == PASS
    assert evaluate(c, kube_result(0, "")).status == FAIL


def test_kubectl_config_errors_are_not_not_found():
    gone = check("kube", {"resource": "pod", "name": "web"}, {"exists": False})
    for err in ('error: context was not found for specified context: kind-x\n',
                'error: cluster "kubernetes" not found\n', "sudo: kubectl: command not found\n"):
        out = evaluate(gone, kube_result(1, err=err))
        assert out.status == ERROR, err


def test_a_directory_where_a_file_is_wanted_is_a_fail_not_an_error(tmp_path):
    (tmp_path / "adir").mkdir()
    out = run_local(check("file", str(tmp_path / "adir"), {"type": "file", "content": "x"}))
    assert out.status == FAIL and "type directory" in out.actual
