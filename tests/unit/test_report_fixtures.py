"""Realistic results shared by the test_report_* modules (imported, no tests of its own)."""
from __future__ import annotations

from grader.engine.results import CheckResult, RunResult, TaskResult

XSS_ACTUAL = "1 <script>alert(1)</script> <img src=x onerror=alert(1)>"
RAW_DESCRIPTION = ("# Scale it\nScale deployment <b>frontend</b> <script>alert('desc')</script> in `nginx-ns`.\n\n"
                   "<img src=x onerror=alert(2)> See [the docs](https://kubernetes.io/docs/) and "
                   "![diagram](http://example.com/x.png).")


def sample_run(**overrides) -> RunResult:
    """Three tasks in three domains: one solved, one failed (with hostile evidence),
    one with an ERROR check (apiserver down) next to a PASS and a FAIL."""
    run = RunResult(
        pack="cka-troubleshooting", pack_title="CKA troubleshooting drills", pack_version="1.2.0",
        mode="exam", seed=4242, inventory="killercoda", hosts=["controlplane", "node01"],
        started="2024-05-01T10:00:00+00:00", ended="2024-05-01T10:52:30+00:00",
        deadline="2024-05-01T11:00:00+00:00", time_used=3150.0, late=False, pass_percent=66.0,
        tasks=[
            TaskResult(
                id="fix-kubelet", title="Bring node01 back to Ready", domain="Troubleshooting",
                target_minutes=12, time_spent=840.0,
                description="The node `node01` is **NotReady**. Fix the kubelet.\n\n- check `systemctl status kubelet`\n- read the logs",
                hints=["Look at `journalctl -u kubelet`", "The config path is wrong"],
                explanation="The kubelet reads `/var/lib/kubelet/config.yaml`.",
                solution=["sed -i 's/confg/config/' /etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
                          "systemctl daemon-reload && systemctl restart kubelet"],
                checks=[
                    CheckResult("kubelet active", "PASS", 2, host="node01", kind="run", expected="exit 0",
                                actual="active", duration=0.31),
                    CheckResult("node01 Ready", "PASS", 3, host="controlplane", kind="kube",
                                expected="equals True", actual="True", duration=1.2, attempts=2),
                ]),
            TaskResult(
                id="deploy-replicas", title="Scale the frontend to 3 replicas", domain="Workloads",
                target_minutes=6, time_spent=720.0, flagged=True, description=RAW_DESCRIPTION,
                hints=["`kubectl scale`"], explanation="Replicas live in `.spec.replicas`.",
                solution=["kubectl -n nginx-ns scale deploy frontend --replicas=3"],
                checks=[
                    CheckResult("3 replicas available", "FAIL", 3, host="controlplane", kind="kube",
                                expected="value >= 3", actual=XSS_ACTUAL,
                                message="only 1 replica is available", duration=30.5, attempts=15),
                    CheckResult("image is nginx:1.25", "PASS", 1, host="controlplane", kind="kube",
                                expected="contains nginx:1.25", actual="nginx:1.25", duration=0.4),
                ]),
            TaskResult(
                id="netpol", title="Allow only the api pods", domain="Networking", target_minutes=8,
                checks=[
                    CheckResult("policy exists", "PASS", 1, host="controlplane", kind="kube",
                                expected="exists", actual="found", duration=0.2),
                    CheckResult("api can reach db", "ERROR", 2, host="controlplane", kind="run",
                                expected="exit 0", actual="The connection to the server 10.0.0.1:6443 was refused",
                                message="kubectl cannot reach the apiserver: start kube-apiserver and grade again",
                                duration=20.0),
                    CheckResult("web cannot reach db", "FAIL", 2, host="node01", kind="script",
                                expected="exit 1", actual="exit 0\nstdout: connected\x01\x1b[31m", duration=3.0),
                ]),
        ])
    for key, value in overrides.items():
        setattr(run, key, value)
    return run


def passing_run(mode: str = "check") -> RunResult:
    run = sample_run(mode=mode)
    run.tasks = run.tasks[:1]
    return run


def failing_run(mode: str = "exam") -> RunResult:
    run = sample_run(mode=mode)
    run.tasks = run.tasks[:2]
    run.tasks[0].checks[1].status = "FAIL"           # 2/9 points: below the pass mark
    return run
