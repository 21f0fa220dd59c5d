"""Drills end to end on the local lab, through the `grader` command as a candidate uses it.

* a drill of linux-networking (or, while that pack does not load, the mini pack):
  start with a seed, a stand-in candidate applies the reference solutions of half of
  the tasks, grade; the score, every check's status and the three report files;
* the report's escaping and redaction: a candidate leaves `<script>` in a file a
  check shows, and a value that a `sensitive` check must never show;
* `kill -9` during setup and during grading: the drill can still be graded, and
  its start, deadline and hand-in time do not move.

Each test has its own GRADER_HOME and aborts its drill at the end (resetting the
tasks), so the shared lab is left as it was found.
"""
from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
PACKS = REPO / "tests" / "data" / "packs"
DRILL_PACK = str(PACKS / "drill")
SCRIPT = "<script>alert(1)</script>"
SECRET = "TOPSECRET-hunter2-4242"


class Candidate:
    """One GRADER_HOME, the lab's inventory, and the `grader` command."""

    def __init__(self, lab, home: Path):
        self.lab, self.home, self.inv = lab, home, str(lab.inventory_path)
        self.env = {**os.environ, "GRADER_HOME": str(home), "NO_COLOR": "1"}
        self.env.pop("GRADER_INVENTORY", None)

    def command(self, *args) -> list[str]:
        return [sys.executable, "-m", "grader", *map(str, args)]

    def grader(self, *args, timeout=300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env, cwd=REPO,
                              timeout=timeout)

    def spawn(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def state(self) -> dict:
        return json.loads((self.home / "drill.json").read_text())

    def status(self) -> dict:
        r = self.grader("drill", "status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def sh(self, command: str) -> str:
        return self.lab.ssh("controlplane", command, check=True).stdout

    def solve(self, pack_ref: str, seed: int, task_ids) -> None:
        """What a candidate would type: here, the tasks' reference solutions."""
        from grader.engine.lifecycle import render
        from grader.packs.loader import load_pack
        from grader.engine.runner import Runner

        inventory = self.lab.inventory
        pack = load_pack(pack_ref, inventory=inventory)
        tasks = render(pack, [pack.task(t) for t in task_ids], seed=seed, inventory=inventory)
        with Runner(inventory) as runner:
            for task in tasks:
                runner.run_steps(task, "solution")


@pytest.fixture
def candidate(lab, tmp_path):
    c = Candidate(lab, tmp_path / "home")
    yield c
    if (c.home / "drill.json").exists():
        c.grader("drill", "abort")


def main_pack(inventory) -> str:
    """linux-networking when it loads (schema, files, templates), else the mini pack."""
    from grader.errors import GraderError
    from grader.packs.loader import load_pack

    try:
        load_pack("linux-networking", inventory=inventory)
        return "linux-networking"
    except GraderError:
        return str(PACKS / "mini")


class Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def reports(out: Path):
    assert {p.name for p in out.iterdir()} == {"results.json", "report.html", "junit.xml"}
    return (json.loads((out / "results.json").read_text()), (out / "report.html").read_text(),
            (out / "junit.xml").read_text())


def results_dir(stdout: str) -> Path:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("report: "))
    path = Path(line.split(": ", 1)[1])
    assert path.name == "report.html" and path.is_file()
    return path.parent


# --- a real drill -------------------------------------------------------------------


def test_drill_graded_after_half_the_tasks_are_solved(candidate, lab):
    from grader.report import fmt
    from grader.engine.results import from_dict
    from grader.engine.scoring import score

    pack = main_pack(lab.inventory)
    seed = random.randrange(10**6)
    count = 4 if pack == "linux-networking" else 2
    r = candidate.grader("drill", "start", pack, "-i", candidate.inv, "--seed", seed, "--count", count)
    assert r.returncode == 0, r.stderr
    assert "Exam drill" in r.stdout
    st = candidate.status()
    ids = [t["id"] for t in st["tasks"]]
    assert len(ids) == count and st["seed"] == seed and st["phase"] == "running" and st["remaining"] > 0
    solved = ids[: (count + 1) // 2]
    candidate.solve(pack, seed, solved)
    assert candidate.grader("drill", "flag", ids[-1]).returncode == 0

    r = candidate.grader("drill", "grade")
    out = results_dir(r.stdout)
    res, html, junit = reports(out)
    run = from_dict(res)
    s = score(run)
    assert r.returncode == (0 if s.passed else 1), r.stderr + r.stdout
    assert f"score {fmt.num(s.percent)}% ({fmt.num(s.earned)}/{fmt.num(s.possible)} points)" in r.stdout

    # per check: every check of a solved task passes; an unsolved task fails, judged
    tasks = {t.id: t for t in run.tasks}
    assert list(tasks) == ids and res["mode"] == "exam" and res["seed"] == seed
    for t in solved:
        assert [c.status for c in tasks[t].checks] == ["PASS"] * len(tasks[t].checks), t
    for t in ids[len(solved):]:
        statuses = {c.status for c in tasks[t].checks}
        assert "FAIL" in statuses and "ERROR" not in statuses, (t, statuses)
    assert tasks[ids[-1]].flagged and not tasks[ids[0]].flagged
    unsolved_pass = sum(c.points for t in ids[len(solved):] for c in tasks[t].checks if c.status == "PASS")
    assert s.earned == sum(tasks[t].points for t in solved) + unsolved_pass
    assert s.errors == 0 and 0 < s.percent < 100
    assert res["started"] == st["started"] and res["deadline"] == st["deadline"] and not res["late"]
    assert 0 < res["time_used"] < 600

    # JUnit: one testcase per check, failures = FAIL checks
    root = ET.fromstring(junit)
    cases = root.findall(".//testcase")
    assert len(cases) == sum(len(t.checks) for t in run.tasks)
    assert sum(1 for c in cases if c.find("failure") is not None) == \
        sum(1 for _, c in run.all_checks() if c.status == "FAIL")
    assert all(c.find("error") is None for c in cases)

    # HTML: the drill's content, no script
    page = Page(html)
    text = page.all_text
    assert "script" not in page.tags
    assert run.pack_title.split(":")[0] in text and s.verdict in text
    for t in run.tasks:
        assert " ".join(t.title.split()) in text
        for c in t.checks:
            assert " ".join(c.name.split()) in text

    hist = json.loads(candidate.grader("history", "--json").stdout)
    assert len(hist) == 1 and hist[0]["percent"] == s.percent and hist[0]["passed"] == s.passed
    assert hist[0]["results"] == str(out)
    r = candidate.grader("drill", "abort")
    assert r.returncode == 0, r.stderr


# --- escaping and redaction -----------------------------------------------------------


def test_report_escapes_what_the_candidate_left_and_hides_sensitive_values(candidate):
    seed = random.randrange(10**6)
    assert candidate.grader("drill", "start", DRILL_PACK, "-i", candidate.inv, "--seed", seed).returncode == 0
    d = f"/tmp/grader-drill-{seed}"
    candidate.sh(f"printf '%s\\n' {shlex.quote(SCRIPT)} > {d}/note && printf %s {SECRET} > {d}/password")
    candidate.solve(DRILL_PACK, seed, ["marker"])

    r = candidate.grader("drill", "grade")
    assert r.returncode == 1, r.stderr                 # 1 of 4 points
    out = results_dir(r.stdout)
    res, html, junit = reports(out)
    checks = {c["name"]: c for t in res["tasks"] for c in t["checks"]}
    assert [c["status"] for c in checks.values()] == ["PASS", "FAIL", "FAIL"]
    assert SCRIPT in checks["the note says done"]["actual"]
    assert "hidden" in checks["a strong password is stored"]["actual"]

    for name, text in (("results.json", json.dumps(res)), ("report.html", html), ("junit.xml", junit),
                       ("stdout", r.stdout), ("stderr", r.stderr)):
        assert SECRET not in text, f"the sensitive value leaked into {name}"
        assert "hunter2" not in text, name

    page = Page(html)
    assert "script" not in page.tags                  # nothing the candidate wrote became markup
    assert SCRIPT in page.all_text                    # ...but it is shown, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "<script>" not in junit
    failures = [f.get("message", "") + (f.text or "") for f in ET.fromstring(junit).iter("failure")]
    assert any(SCRIPT in f for f in failures)
    assert candidate.grader("drill", "abort").returncode == 0


# --- kill -9 ----------------------------------------------------------------------------


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)           # as a closed terminal or an OOM kill would
    proc.wait(10)


def test_a_drill_killed_during_setup_and_during_grading_can_be_graded(candidate):
    seed = random.randrange(10**6)
    ctl = f"/tmp/grader-drill-ctl-{seed}"
    exists = lambda name: candidate.lab.ssh("controlplane", f"test -e {ctl}/{name}").returncode == 0  # noqa: E731
    candidate.sh(f"mkdir -p {ctl} && touch {ctl}/slow-setup")
    try:
        # one task at a time: the third is still pending while the second is held (tests/unit/
        # test_drill_crash.py covers the default, several at once)
        proc = candidate.spawn("drill", "start", DRILL_PACK, "-i", candidate.inv, "--seed", seed, "--jobs", "1")
        wait_for(lambda: exists("setup-waiting"), "the setup hook")
        before = candidate.state()
        kill_group(proc)
        candidate.sh(f"rm -f {ctl}/slow-setup")

        st = candidate.status()
        assert st["phase"] == "setting-up" and st["interrupted"]
        assert (st["started"], st["deadline"]) == (before["started"], before["deadline"])
        assert [t["setup"] for t in st["tasks"]] == ["done", "running", "pending"]
        r = candidate.grader("drill", "grade")
        assert r.returncode == 3, r.stderr             # two tasks were never set up: not judged
        res = json.loads((Path(candidate.state()["results"]) / "results.json").read_text())
        assert (res["started"], res["deadline"]) == (before["started"], before["deadline"])
        assert [bool(t["error"]) for t in res["tasks"]] == [False, True, True]
        assert candidate.grader("drill", "abort").returncode == 0

        assert candidate.grader("drill", "start", DRILL_PACK, "-i", candidate.inv, "--seed", seed).returncode == 0
        candidate.solve(DRILL_PACK, seed, ["marker", "note", "password"])
        candidate.sh(f"touch {ctl}/slow-grade")
        proc = candidate.spawn("drill", "grade")
        wait_for(lambda: exists("grading"), "the grading hook")
        handed_in = candidate.state()
        kill_group(proc)
        candidate.sh(f"rm -f {ctl}/slow-grade")
        st = candidate.status()
        assert st["phase"] == "grading" and st["interrupted"]

        r = candidate.grader("drill", "grade")
        assert r.returncode == 0, r.stderr + r.stdout
        res, _, _ = reports(results_dir(r.stdout))
        assert {c["status"] for t in res["tasks"] for c in t["checks"]} == {"PASS"}
        assert (res["ended"], res["deadline"]) == (handed_in["submitted"], handed_in["deadline"])
        ids = [h["id"] for h in json.loads(candidate.grader("history", "--json").stdout)]
        assert ids == [before["id"], handed_in["id"]]
    finally:
        candidate.lab.ssh("controlplane", f"rm -rf {ctl}")


# --- the quick start's demo ---------------------------------------------------------------


def test_demo_grades_a_half_solved_drill_and_prints_the_report(candidate):
    r = candidate.grader("demo", "--count", 2, "--seed", random.randrange(10**6))
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().splitlines()[-1].startswith("report: ")
    res, html, _ = reports(results_dir(r.stdout))
    assert res["mode"] == "training" and len(res["tasks"]) == 2
    solved, left = res["tasks"]
    assert {c["status"] for c in solved["checks"]} == {"PASS"} and solved["time_spent"] is not None
    assert "FAIL" in {c["status"] for c in left["checks"]} and left["time_spent"] is None
    assert "stand-in candidate: solving 1 of 2 tasks" in r.stderr
    assert "script" not in Page(html).tags


# --- staged tasks: one that breaks shared state is set up only when begun ------------

STAGED_PACK = str(PACKS / "staged")


def test_an_exclusive_task_is_staged_until_begun_and_scores_nothing_if_never_begun(candidate):
    seed = 4242
    node_dir = f"/tmp/grader-staged-{seed}-node"
    r = candidate.grader("drill", "start", STAGED_PACK, "--seed", seed, "--mode", "training",
                         "--inventory", candidate.inv)
    assert r.returncode == 0, r.stderr
    assert "staged" in r.stderr and "grader drill begin 2" in r.stderr
    assert "Solve this task on: `ssh node01`" in r.stdout or "Solve this task on: ssh node01" in r.stdout
    assert "Begin it with" in r.stdout and "grader drill begin 2" in r.stdout
    # the staged task's setup has not run on node01
    assert candidate.lab.ssh("node01", f"test -e {node_dir}/broken").returncode != 0
    assert candidate.state()["setup"] == {"plain": "done", "breaker": "staged"}
    status = candidate.status()
    assert [t["setup"] for t in status["tasks"]] == ["done", "staged"]

    # a check of a task never begun: FAIL, nothing earned, and it says how to begin it
    r = candidate.grader("drill", "check", "2", "--json", "--inventory", candidate.inv)
    checked = json.loads(r.stdout)
    (task,) = checked["tasks"]
    assert task["id"] == "breaker" and {c["status"] for c in task["checks"]} == {"FAIL"}
    assert all("grader drill begin 2" in c["message"] for c in task["checks"])

    r = candidate.grader("drill", "begin", "2", "--inventory", candidate.inv)
    assert r.returncode == 0, r.stderr
    assert "ssh node01" in r.stdout
    assert candidate.lab.ssh("node01", f"cat {node_dir}/broken").stdout.strip() == "yes"
    assert candidate.state()["setup"]["breaker"] == "done"
    again = candidate.grader("drill", "begin", "2", "--inventory", candidate.inv)
    assert again.returncode != 0 and "already set up" in again.stderr

    candidate.lab.ssh("node01", f"rm -f {node_dir}/broken", check=True)
    r = candidate.grader("drill", "check", "breaker", "--json", "--inventory", candidate.inv)
    assert {c["status"] for c in json.loads(r.stdout)["tasks"][0]["checks"]} == {"PASS"}
    r = candidate.grader("drill", "abort", "--inventory", candidate.inv)
    assert r.returncode == 0, r.stderr
    assert candidate.lab.ssh("node01", f"test -e {node_dir}").returncode != 0, "abort resets a begun task"


def test_an_exam_graded_without_beginning_a_staged_task_loses_only_its_points(candidate):
    seed = 4343
    r = candidate.grader("drill", "start", STAGED_PACK, "--seed", seed, "--mode", "exam",
                         "--inventory", candidate.inv)
    assert r.returncode == 0, r.stderr
    candidate.solve(STAGED_PACK, seed, ["plain"])
    r = candidate.grader("drill", "grade", "--inventory", candidate.inv)
    assert r.returncode == 1, (r.stdout, r.stderr)          # failed the pass mark, not an infrastructure error
    from grader.engine.results import from_dict
    from grader.engine.scoring import score

    data, html, _ = reports(results_dir(r.stdout))
    run = from_dict(data)
    by_id = {t.id: t for t in run.tasks}
    assert {c.status for c in by_id["plain"].checks} == {"PASS"}
    assert {c.status for c in by_id["breaker"].checks} == {"FAIL"}
    s = score(run)
    assert (s.earned, s.possible, s.errors) == (1, 4, 0)
    assert "never begun" in html
    # the staged task was never set up, so node01 carries none of it
    assert candidate.lab.ssh("node01", f"test -e /tmp/grader-staged-{seed}-node").returncode != 0
