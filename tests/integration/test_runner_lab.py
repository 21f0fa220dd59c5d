"""The runner on the real lab: one connection per host, retries of failing checks only,
parallel hosts, and memory for 1,000 checks."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.engine.lifecycle import check_tasks, render
from grader.packs.loader import load_pack
from grader.engine.runner import Runner
from grader.transport import Pool

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def write_pack(root: Path, checks_yaml: str) -> Path:
    pack = root / "rp"
    (pack / "t").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: rp\ntitle: runner pack\nversion: '1'\ntarget: linux\n")
    (pack / "t" / "task.yaml").write_text("id: t\ntitle: T\nminutes: 1\nchecks:\n" + textwrap.indent(checks_yaml, "  "))
    (pack / "t" / "description.md").write_text("x\n")
    return pack


def test_one_connection_per_host_and_retries_rerun_only_failing_checks(lab, tmp_path):
    flag = "/tmp/grader-runner-flag"
    pack_dir = write_pack(tmp_path, textwrap.dedent(f"""\
        - name: hostname on controlplane
          host: controlplane
          run: hostname
          expect: {{stdout: controlplane}}
        - name: hostname on node01
          host: node01
          run: hostname
          expect: {{stdout: node01}}
        - name: appears after a while
          host: node01
          run: test -e {flag} || {{ touch {flag}.n; n=$(ls {flag}.n* | wc -l); [ $n -ge 3 ] && touch {flag}; exit 1; }}
          within: 20
          interval: 0.2
        - name: never holds
          host: controlplane
          run: "false"
          within: 1
          interval: 0.2
        """).replace(f"touch {flag}.n;", f"touch {flag}.n$RANDOM;"))
    inventory = lab.inventory
    pool = Pool(inventory)
    runner = Runner(inventory, pool)
    runner.pool.get("node01").run(f"rm -f {flag} {flag}.n*", timeout=10)
    try:
        pack = load_pack(pack_dir, inventory=inventory)
        tasks = render(pack, list(pack.tasks), seed=0, inventory=inventory)
        run = check_tasks(runner, pack, tasks)
        run2 = check_tasks(runner, pack, tasks)
        by_name = {c.name: c for _, c in run.all_checks()}
        assert by_name["hostname on controlplane"].status == "PASS"
        assert by_name["hostname on node01"].status == "PASS"
        assert by_name["hostname on controlplane"].attempts == 1       # passing checks are not re-run
        assert by_name["appears after a while"].status == "PASS"
        assert by_name["appears after a while"].attempts >= 3
        assert by_name["never holds"].status == "FAIL" and by_name["never holds"].attempts > 1
        assert all(c.status in ("PASS", "FAIL") for _, c in run2.all_checks())
        assert sorted(pool.opened()) == ["controlplane", "node01"]
        for role in ("controlplane", "node01"):
            assert pool.get(role).connects == 1, f"{role} was connected more than once"
    finally:
        pool.get("node01").run(f"rm -f {flag} {flag}.n*", timeout=10)
        runner.close()


MEMORY_SCRIPT = """
import sys, tempfile, textwrap
from pathlib import Path
sys.path.insert(0, {root!r})
from grader.inventory import load
from grader.engine.lifecycle import check_tasks, render
from grader.packs.loader import load_pack
from grader.engine.runner import Runner
inv = load(Path({inv!r}))
root = Path(tempfile.mkdtemp())
(root / "pack.yaml").write_text("name: mem\\ntitle: m\\nversion: '1'\\ntarget: linux\\n")
for t in range(100):
    d = root / f"t{{t:03d}}"; d.mkdir()
    checks = "".join(f"  - name: c{{i}}\\n    host: {{'controlplane' if i % 2 else 'node01'}}\\n    run: echo {{i}}\\n"
                     f"    expect: {{{{stdout: '{{i}}'}}}}\\n" for i in range(10))
    (d / "task.yaml").write_text(f"id: t{{t:03d}}\\ntitle: t\\nminutes: 1\\nchecks:\\n" + checks)
    (d / "description.md").write_text("x")
pack = load_pack(root, inventory=inv)
tasks = render(pack, list(pack.tasks), seed=0, inventory=inv)
with Runner(inv) as r:
    run = check_tasks(r, pack, tasks)
statuses = [c.status for _, c in run.all_checks()]
# VmHWM: this process's own peak (ru_maxrss would carry over the peak of the pytest
# process that forked it, which Linux keeps across exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(len(statuses), statuses.count("PASS"), hwm)
"""


def test_grading_1000_checks_stays_under_100_mb(lab):
    code = MEMORY_SCRIPT.format(root=str(ROOT), inv=str(lab.inventory_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    count, passed, max_rss_kb = map(int, out.stdout.split())
    assert (count, passed) == (1000, 1000)
    assert max_rss_kb < 100 * 1024, f"peak RSS {max_rss_kb / 1024:.1f} MiB"
