"""Developer tasks for grader (https://www.pyinvoke.org/).  `invoke --list` shows them;
`invoke --help TASK` shows a task's options.  Tasks that build labs or clusters need root
(the local lab) or a Docker daemon and the `kind` command (the kind cluster).
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from invoke import Collection, task

ROOT = Path(__file__).resolve().parent
PY = shlex.quote(sys.executable)     # the interpreter running invoke: the venv's, with grader in it
GRADER = f"{PY} -m grader"
README_TEST = f"{PY} -m pytest -q"   # the README's test command (.venv/bin/python -m pytest -q)
KIND_CONFIG = ROOT / "kind" / "kind-config.yaml"
KIND_INVENTORY = ROOT / "kind" / "inventory.yaml"
KIND_CLUSTER = "grader"


def _builtin_packs(target: str | None = None) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from grader.packs.packs import builtin_names, peek_pack

    packs = [peek_pack(name) for name in builtin_names()]
    return [p for p in packs if target in (None, p["target"])]


@task(help={"marker": "only tests with this pytest marker expression, e.g. 'not lab and not docker'",
            "keyword": "only tests matching this pytest -k expression",
            "verbose": "pytest -v instead of -q"})
def test(c, marker="", keyword="", verbose=False):
    """Run the test suite: the README's command, from the checkout (lab and docker tests need root)."""
    command = f"{PY} -m pytest -v" if verbose else README_TEST
    if marker:
        command += f" -m {shlex.quote(marker)}"
    if keyword:
        command += f" -k {shlex.quote(keyword)}"
    with c.cd(str(ROOT)):
        c.run(command, pty=False)


@task
def lint(c):
    """Lint every built-in pack (schema, templates, manifests, shellcheck) and compile the code."""
    names = " ".join(shlex.quote(p["name"]) for p in _builtin_packs())
    with c.cd(str(ROOT)):
        c.run(f"{PY} -m compileall -q grader tests tasks.py")
        c.run(f"{GRADER} lint {names}")


@task(name="up", help={"docker": "the docker variant (kind-like containers in a private dockerd)"})
def lab_up(c, docker=False):
    """Bring the local two-host lab up (root); prints its inventory path."""
    c.run(f"{GRADER} lab up" + (" --docker" if docker else ""))


@task(name="down", help={"docker": "the docker variant"})
def lab_down(c, docker=False):
    """Tear the local lab down (root); safe to run twice."""
    c.run(f"{GRADER} lab down" + (" --docker" if docker else ""))


@task(help={"pack": "a pack (name, folder or archive); default: every built-in pack for the target",
            "inventory": "inventory file; default: the lab's for linux packs, kind/inventory.yaml for kubernetes",
            "target": "with no --pack: 'linux' (the lab) or 'kubernetes' (the kind cluster)",
            "shard": "I/N: only the I-th of N slices of the tasks",
            "task": "with --pack: only these task ids, comma-separated",
            "out": "where to write results.json, report.html and junit.xml per pack"})
def validate(c, pack="", inventory="", target="linux", shard="", out="results", task=""):
    """Self-test packs: setup must break each task, its solution must fix it (JUnit/HTML in results/)."""
    if task and not pack:
        raise SystemExit("validate: --task needs --pack (task ids belong to one pack)")
    packs = [pack] if pack else [p["name"] for p in _builtin_packs(target)]
    if not inventory:
        inventory = str(KIND_INVENTORY) if target == "kubernetes" and not pack else \
            c.run(f"{GRADER} lab up", hide="out").stdout.strip()
    failed = []
    for name in packs:
        dest = Path(out) / Path(name).name.removesuffix(".tar.gz")
        cmd = f"{GRADER} validate {shlex.quote(name)} -i {shlex.quote(inventory)} -o {shlex.quote(str(dest))}"
        if shard:
            cmd += f" --shard {shlex.quote(shard)}"
        if task:
            cmd += f" --task {shlex.quote(task)}"
        if not c.run(cmd, warn=True).ok:
            failed.append(name)
    if failed:
        raise SystemExit(f"validate failed for: {', '.join(failed)}")


@task(help={"checks": "number of checks in the benchmark pack", "runs": "repetitions (the median is reported)"})
def bench(c, checks=100, runs=5):
    """Benchmark grading on the local lab against per-check ssh (bench/bench_grading.py)."""
    c.run(f"{PY} {shlex.quote(str(ROOT / 'bench' / 'bench_grading.py'))} --checks {int(checks)} --runs {int(runs)}")


@task(help={"out": "output folder", "wheel": "also build the Python wheel and sdist (needs `build` or pip)"})
def build(c, out="dist", wheel=True):
    """Build every built-in pack as a verified archive (and the wheel) into dist/."""
    packs_out = Path(out) / "packs"
    for p in _builtin_packs():
        c.run(f"{GRADER} pack build {shlex.quote(p['name'])} -o {shlex.quote(str(packs_out))}")
    for archive in sorted(packs_out.glob("*.tar.gz")):
        c.run(f"{GRADER} pack verify {shlex.quote(str(archive))}")
    if wheel:
        c.run(f"{PY} -m pip wheel -q --no-deps -w {shlex.quote(out)} {shlex.quote(str(ROOT))}")


@task(name="up", help={"image": "kind node image (default: kind's own for its version)"})
def kind_up(c, image=""):
    """Create the kind cluster `grader` (control-plane + worker) from kind/kind-config.yaml."""
    extra = f" --image {shlex.quote(image)}" if image else ""
    c.run(f"kind create cluster --config {shlex.quote(str(KIND_CONFIG))} --wait 180s{extra}")
    c.run("docker exec grader-control-plane kubectl --kubeconfig /etc/kubernetes/admin.conf "
          "wait --for=condition=Ready node --all --timeout=180s")
    print(f"inventory: {KIND_INVENTORY}  (grader validate PACK -i {os.path.relpath(KIND_INVENTORY)})")


@task(name="down")
def kind_down(c):
    """Delete the kind cluster `grader`."""
    c.run(f"kind delete cluster --name {KIND_CLUSTER}")


ns = Collection(test, lint, validate, bench, build)
ns.add_collection(Collection("lab", lab_up, lab_down))
ns.add_collection(Collection("kind", kind_up, kind_down))
