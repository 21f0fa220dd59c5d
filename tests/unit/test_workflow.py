""".github/workflows/validate-packs.yml, kind/ and tasks.py: they parse, and every grader
command they run exists with the options they give it (the workflow cannot run here)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.cli import build_parser
from grader.cli.core import shard
from grader.errors import UsageError
from needs import tool  # tests/needs.py

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "validate-packs.yml"
GRADER_CALL = re.compile(r"(?<![\w/.$-])grader(?![\w.-])")
ARG = re.compile(r"[ \t]+([^\s|;&)<>]+)")


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def runs(workflow):
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                yield job_name, step, step["run"]


def grader_calls(script: str) -> list[list[str]]:
    """Every `grader ...` invocation in a shell script, as argv (expressions replaced by a word)."""
    script = re.sub(r"\$\{\{[^}]*\}\}", "X", script).replace("\\\n", " ")
    calls = []
    for m in GRADER_CALL.finditer(script):
        argv, pos = [], m.end()
        while (arg := ARG.match(script, pos)):
            pos = arg.end()
            if arg.group(1).startswith("$("):    # a command substitution: one word, and its own call
                argv.append("X")
                break
            argv.append(arg.group(1).strip("\"'"))
        calls.append(argv)
    return calls


def test_the_workflow_parses(workflow):
    on = workflow.get("on", workflow.get(True))          # YAML 1.1 reads `on` as true
    assert {"push", "pull_request", "workflow_dispatch"} <= set(on)
    assert set(workflow["jobs"]) == {"plan", "kubernetes", "linux"}
    for name in ("kubernetes", "linux"):
        job = workflow["jobs"][name]
        assert job["needs"] == "plan"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.{name}) }}}}"
        uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        assert uploads and uploads[0]["if"] == "always()" and uploads[0]["with"]["path"] == "${{ env.OUT }}"


def test_every_grader_command_exists_with_its_options(workflow):
    parser = build_parser()
    seen = set()
    for job, step, script in runs(workflow):
        for argv in grader_calls(script):
            try:
                args = parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"job {job}, step {step.get('name', script[:40])!r}: `grader {' '.join(argv)}` "
                            "is not a valid grader command")
            assert getattr(args, "func", None), f"`grader {' '.join(argv)}` names no command"
            seen.add(" ".join(argv[:2]) if argv[0] in ("pack", "lab") else argv[0])
    assert {"lint", "list", "pack build", "pack verify", "validate", "lab up", "lab down"} <= seen


def test_validate_runs_sharded_with_reports(workflow):
    for name, inventory in (("kubernetes", "kind/inventory.yaml"), ("linux", "$INVENTORY")):
        calls = [a for _, step, s in runs({"jobs": {name: workflow["jobs"][name]}}) for a in grader_calls(s)
                 if a[0] == "validate"]
        assert len(calls) == 1, calls
        args = build_parser().parse_args(calls[0])
        assert (args.ref, args.shard, args.inventory, args.out) == ("$PACK", "$SHARD", inventory, "$OUT")
        env = workflow["jobs"][name]["env"]
        assert env["SHARD"] == "${{ matrix.shard }}" and env["OUT"].startswith("results/")


def test_the_kind_cluster_matches_the_inventory(workflow):
    config = yaml.safe_load((ROOT / "kind" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker"]
    kind_step = next(s for s in workflow["jobs"]["kubernetes"]["steps"] if str(s.get("uses", "")).startswith(
        "helm/kind-action@"))
    assert kind_step["with"]["config"] == "kind/kind-config.yaml"
    assert kind_step["with"]["cluster_name"] == config["name"] == "grader"

    from grader.inventory import load
    inv = load(ROOT / "kind" / "inventory.yaml")
    assert inv.kubeconfig == "/etc/kubernetes/admin.conf" and inv.kube_host == "controlplane"
    names = {"controlplane": f"{config['name']}-control-plane", "node01": f"{config['name']}-worker"}
    for role, container in names.items():
        host = inv.host(role)
        assert (host.transport, host.container, host.node_name) == ("docker", container, container)


def test_the_plan_step_gives_every_builtin_pack_its_shards(workflow, tmp_path):
    step = next(s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    program = step["run"].split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0]
    listing = subprocess.run([sys.executable, "-m", "grader", "list", "--json"], capture_output=True, text=True,
                             cwd=ROOT, check=True, timeout=60).stdout
    (tmp_path / "packs.json").write_text(listing)
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, check=True,
                         timeout=60).stdout
    outputs = dict(line.split("=", 1) for line in out.splitlines())
    packs = json.loads(listing)
    for target in ("kubernetes", "linux"):
        include = json.loads(outputs[target])["include"]
        expected = {p["name"] for p in packs if p["target"] == target and p["tasks"]}
        assert {i["pack"] for i in include} == expected
        for name in expected:
            shards = [i["shard"] for i in include if i["pack"] == name]
            n = len(shards)
            assert shards == [f"{k}/{n}" for k in range(1, n + 1)]
    assert json.loads(outputs["kubernetes"])["include"], "cka-road-trip must be validated on kind"


def test_shards_split_without_overlap():
    items = list(range(10))
    for n in (1, 2, 3, 4, 11):
        parts = [shard(items, f"{i}/{n}") for i in range(1, n + 1)]
        assert sorted(x for p in parts for x in p) == items
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard(items, None) == items
    for bad in ("0/2", "3/2", "a/b", "2", "1/0"):
        with pytest.raises(UsageError, match="--shard"):
            shard(items, bad)


def test_invoke_lists_every_task_with_its_purpose():
    invoke = tool("invoke")
    out = subprocess.run([invoke, "--list"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    listed = dict(re.findall(r"^  (\S+)\s+(\S.*)$", out.stdout, re.M))
    for name in ("test", "lint", "lab.up", "lab.down", "validate", "bench", "build", "kind.up", "kind.down"):
        assert listed.get(name), f"invoke --list does not explain {name}: {out.stdout}"
    doc = (ROOT / "docs" / "trainers.md").read_text()
    table = doc[doc.index("## Developer tasks"):]
    for name in listed:
        group, _, action = name.partition(".")
        assert re.search(rf"`invoke {re.escape(name)}\b" + (rf"|`invoke {group}\.\w+\b[^|\n]*\b{action}\b" if action else ""),
                         table), f"docs/trainers.md does not document invoke {name}"


def test_the_scanner_sees_what_the_workflow_would_run():
    script = ('docker exec grader-control-plane kubectl get nodes\n'
              'echo "X=$(sudo env "PATH=$PATH" grader lab up)" >> "$GITHUB_ENV"\n'
              'grader lint $(grader list --json | python -c "...") && grader validat "$PACK" --shard 1/2\n')
    calls = grader_calls(script)
    assert calls == [["lab", "up"], ["lint", "X"], ["list", "--json"], ["validat", "$PACK", "--shard", "1/2"]]
    with pytest.raises(SystemExit):
        build_parser().parse_args(calls[-1])
