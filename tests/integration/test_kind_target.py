"""The kind target without kind: kind/inventory.yaml, exactly as shipped, against the docker
lab, whose containers are named like kind's nodes (grader-control-plane, grader-worker).
The only difference from CI is the daemon, chosen with DOCKER_HOST.

Proves: the docker transport reaches both nodes by their kind names; roles map to kind's
node names (templates, script environment, kube checks); kubectl is run inside the
control-plane node with /etc/kubernetes/admin.conf; `grader validate` works over the
docker inventory; `--shard I/N` splits a pack between runners without overlap.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from grader.inventory import load
from grader.transport import Pool

ROOT = Path(__file__).resolve().parents[2]
KIND_INVENTORY = ROOT / "kind" / "inventory.yaml"

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_env(docker_lab):
    """The environment that points the docker CLI at the docker lab's daemon."""
    return {**os.environ, "DOCKER_HOST": docker_lab.docker_host, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def kind_inventory(docker_env, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", docker_env["DOCKER_HOST"])
    return load(KIND_INVENTORY)


def grader(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def node_pack(root: Path, tag: str, tasks: int = 4) -> Path:
    """A linux pack over both kind nodes: each task puts a file on node01 whose content
    must be node01's Kubernetes node name, and checks it from both roles."""
    pack = root / "kind-nodes"
    write(pack / "pack.yaml", """
        name: kind-nodes
        title: Node names on a kind target
        version: 0.1.0
        target: linux
        hosts: [controlplane, node01]
        """)
    for i in range(1, tasks + 1):
        d = f"/tmp/grader-kind-{tag}-{i}"
        write(pack / f"t{i}" / "description.md", "Write `{{ hosts.node01.node }}` into " + d + "/node on node01.\n")
        write(pack / f"t{i}" / "check.sh", """
            #!/usr/bin/env bash
            # runs on controlplane: the roles' node names are in the environment
            [ "$(hostname)" = "$GRADER_HOST_CONTROLPLANE_NODE" ] && [ "$GRADER_HOST_NODE01_NODE" = grader-worker ]
            """)
        write(pack / f"t{i}" / "task.yaml", f"""
            id: t{i}
            title: Task {i}
            minutes: 1
            setup:
              - run: mkdir -p {d} && echo wrong > {d}/node
                host: node01
            solution:
              - run: printf '%s\\n' {{{{ hosts.node01.node }}}} > {d}/node
                host: node01
            reset:
              - run: rm -rf {d}
                host: node01
            checks:
              - name: node01 holds its own node name
                host: node01
                run: cat {d}/node
                expect: {{stdout: "{{{{ hosts.node01.node }}}}"}}
              - name: the file on node01 is named after the worker
                host: node01
                file: {d}/node
                expect: {{content: {{regex: "^grader-worker$"}}}}
              - name: node names reach scripts
                host: controlplane
                passes_before_fix: true
                script: check.sh
            """)
    return pack


def test_the_docker_transport_reaches_both_kind_nodes(kind_inventory):
    assert kind_inventory.host("controlplane").docker is None     # the file as shipped: the default daemon
    with Pool(kind_inventory) as pool:
        for role, name in (("controlplane", "grader-control-plane"), ("node01", "grader-worker")):
            result = pool.get(role).run("hostname", timeout=30)
            assert (result.exit_code, result.stdout.strip()) == (0, name)
            assert kind_inventory.host(role).node_name == name


def test_roles_map_to_kind_node_names(docker_env, tmp_path):
    tag = uuid.uuid4().hex[:8]
    pack = node_pack(tmp_path, tag, tasks=1)
    shown = grader(docker_env, "show", f"{pack}/t1", "-i", str(KIND_INVENTORY), "--json")
    assert shown.returncode == 0, shown.stderr
    assert "Write `grader-worker` into" in json.loads(shown.stdout)["description"]
    proc = grader(docker_env, "validate", str(pack), "-i", str(KIND_INVENTORY), "-o", str(tmp_path / "out"),
                  "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert run["inventory"] == "kind-grader" and run["hosts"] == ["controlplane", "node01"]
    assert [c["status"] for c in run["tasks"][0]["checks"]] == ["PASS", "PASS", "PASS"]
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"junit.xml", "report.html", "results.json"}


def test_kube_checks_run_kubectl_inside_the_control_plane_node(kind_inventory, tmp_path, docker_lab):
    """kind nodes ship kubectl and admin.conf; the docker lab's do not, so a stand-in kubectl
    (at a private path, the only change to the inventory) records how grader calls it."""
    from grader.engine.lifecycle import check_tasks, render
    from grader.packs.loader import load_pack
    from grader.engine.runner import Runner

    tag = uuid.uuid4().hex[:8]
    fake = f"/tmp/grader-kubectl-{tag}"
    stub = (f"#!/bin/bash\nprintf '%s\\n' \"$(hostname)\" \"$@\" > {fake}.args\n"
            "echo True\n")
    put = docker_lab.docker("exec", "-i", "grader-control-plane", "sh", "-c", f"cat > {fake} && chmod +x {fake}",
                            input=stub.encode())
    assert put.returncode == 0, put.stderr
    try:
        pack = tmp_path / "kube-pack"
        write(pack / "pack.yaml", "name: kube-pack\ntitle: Kube\nversion: 0.1.0\n")
        write(pack / "ready" / "description.md", "The worker is Ready.\n")
        write(pack / "ready" / "task.yaml", """
            id: ready
            title: The worker node is ready
            minutes: 1
            checks:
              - name: the worker is Ready
                kube: {resource: node, name: "{{ hosts.node01.node }}"}
                expect:
                  jsonpath: '{.status.conditions[?(@.type=="Ready")].status}'
                  value: "True"
            """)
        inventory = replace(kind_inventory, kubectl=fake)
        loaded = load_pack(str(pack), inventory=inventory)
        tasks = render(loaded, list(loaded.tasks), seed=0, inventory=inventory)
        with Runner(inventory) as runner:
            run = check_tasks(runner, loaded, tasks)
        assert run.tasks[0].checks[0].status == "PASS", run.tasks[0].checks[0]
        args = docker_lab.docker("exec", "grader-control-plane", "cat", f"{fake}.args").stdout.splitlines()
        assert args[0] == "grader-control-plane"
        assert args[1:5] == ["--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node"]
        assert "grader-worker" in args
    finally:
        docker_lab.docker("exec", "grader-control-plane", "rm", "-f", fake, f"{fake}.args")


def test_shards_split_a_pack_between_runners(docker_env, tmp_path):
    tag = uuid.uuid4().hex[:8]
    pack = node_pack(tmp_path, tag, tasks=4)
    seen = []
    for i in (1, 2, 3):
        proc = grader(docker_env, "validate", str(pack), "--shard", f"{i}/3", "-i", str(KIND_INVENTORY),
                      "-o", str(tmp_path / f"shard{i}"), "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        ids = [t["id"] for t in json.loads(proc.stdout)["tasks"]]
        junit = (tmp_path / f"shard{i}" / "junit.xml").read_text()
        assert all(f"{task_id}" in junit for task_id in ids)
        seen.append(ids)
    assert seen == [["t1", "t4"], ["t2"], ["t3"]]
    bad = grader(docker_env, "validate", str(pack), "--shard", "4/3", "-i", str(KIND_INVENTORY))
    assert bad.returncode == 2 and "--shard 4/3" in bad.stderr


def test_a_stopped_node_is_an_environment_error(docker_env, tmp_path):
    """The inventory names a container that is not there: exit 3 with a message naming it."""
    inv = tmp_path / "inv.yaml"
    inv.write_text(KIND_INVENTORY.read_text().replace("container: grader-worker", "container: grader-worker-gone"))
    proc = grader(docker_env, "exec", "node01", "-i", str(inv), "--", "hostname")
    assert proc.returncode == 3
    assert "grader-worker-gone" in proc.stderr
