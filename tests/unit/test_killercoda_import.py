"""`grader import killercoda` on scenarios the way real banks write them (Katacoda keys, steps
without verify, solutions in the text, links, asset globs, wrong types, odd bytes).  Each test
names the point of the issue it covers; every scenario here is written for these tests."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import killercoda
from grader.errors import PackError
from grader.packs.lint import lint

ROOT = Path(__file__).resolve().parents[2]


def grader(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def scenario(root: Path, index: dict, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps(index, indent=2))
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def task(pack: Path, task_id: str) -> dict:
    return yaml.safe_load((pack / task_id / "task.yaml").read_text())


def step(title, n, **keys):
    return {"title": title, "text": f"step{n}/text.md", **{k: f"step{n}/{v}" for k, v in keys.items()}}


# --- 1. Katacoda-era keys ------------------------------------------------------------

def katacoda(root: Path) -> Path:
    index = {"title": "Tune the cache", "details": {
        "intro": {"text": "intro.md", "courseData": "setup-env.sh", "code": "watch.sh"},
        "steps": [{"title": "Size the cache", "text": "step1.md", "verify": "step1-verify.sh",
                   "courseData": "step1-bg.sh", "code": "step1-fg.sh", "answer": "step1-answer.md"}],
        "finish": {"text": "finish.md", "courseData": "finish-bg.sh"}},
        "backend": {"imageid": "ubuntu:2004"}}
    return scenario(root, index, {
        "intro.md": "A cache that is far too small.\n",
        "setup-env.sh": "#!/bin/bash\nmkdir -p /srv/cache\n",
        "watch.sh": "#!/bin/bash\necho watching\n",
        "step1.md": "Set `size=64` in `/srv/cache/cache.conf`.\n",
        "step1-bg.sh": "#!/bin/bash\necho size=1 > /srv/cache/cache.conf\n",
        "step1-fg.sh": "#!/bin/bash\nclear\n",
        "step1-verify.sh": "#!/bin/bash\ngrep -qx size=64 /srv/cache/cache.conf\n",
        "step1-answer.md": "Rewrite the line:\n\n```\necho size=64 > /srv/cache/cache.conf\n```\n",
        "finish.md": "Caches need room.\n", "finish-bg.sh": "#!/bin/bash\ntrue\n"})


def test_katacoda_keys_map_to_setup_solution_and_notes(tmp_path):
    """1: courseData was dropped (no setup at all), answer was reported as missing."""
    report = killercoda.import_scenario(katacoda(tmp_path / "kata"), tmp_path / "pack")
    pack = tmp_path / "pack"
    t = task(pack, "size-the-cache")
    assert [s["script"] for s in t["setup"]] == ["../lib/intro-coursedata.sh", "setup.sh"]
    assert (pack / "lib" / "intro-coursedata.sh").read_text() == "#!/bin/bash\nmkdir -p /srv/cache\n"
    assert (pack / "size-the-cache" / "setup.sh").read_text() == "#!/bin/bash\necho size=1 > /srv/cache/cache.conf\n"
    assert t["solution"] == [{"script": "solution.sh", "host": "controlplane"}]
    solution = (pack / "size-the-cache" / "solution.sh").read_text()
    assert "\necho size=64 > /srv/cache/cache.conf\n" in solution and "# Rewrite the line:" in solution
    notes = "\n".join(report.notes)
    for expected in ("details.intro.code: Katacoda's foreground script", "details.steps[0].code (size-the-cache)",
                     "details.finish.courseData: runs after the last step", "solution.sh made from step1-answer.md"):
        assert expected in notes, expected
    assert "has no solution" not in notes
    assert lint(str(pack)) == []


def test_the_katacoda_solution_solves_the_task(tmp_path):
    """1: the imported setup breaks it, the imported answer fixes it, graded by the imported verify."""
    root = tmp_path / "srv"
    kata = katacoda(tmp_path / "kata")
    for f in kata.rglob("*"):
        if f.is_file() and f.name != "index.json":
            f.write_text(f.read_text().replace("/srv/cache", str(root)))
    killercoda.import_scenario(kata, tmp_path / "pack")
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("hosts:\n  controlplane: {transport: local}\n")
    for verb, expected in (("setup", 0), ("check", 1), ("solve", 0), ("check", 0)):
        proc = grader(verb, str(tmp_path / "pack"), "-i", str(inventory))
        assert proc.returncode == expected, (verb, proc.stdout, proc.stderr)


# --- 4. steps without a verify script ------------------------------------------------

def test_an_unverified_step_passes_its_text_and_background_on(tmp_path):
    """4: the step vanished, with the text and the state the next graded step depends on."""
    index = {"title": "Three steps", "details": {"steps": [
        step("Read the manual", 1, background="bg.sh"),
        step("Fix A", 2, verify="verify.sh"),
        step("Create the user", 3, background="bg.sh"),
        step("Fix B", 4, verify="verify.sh"),
        step("Cleanup notes", 5)]}}
    src = scenario(tmp_path / "sc", index, {
        "step1/text.md": "The app keeps its state in `/srv/app`.\n", "step1/bg.sh": "#!/bin/bash\nmkdir -p /srv/app\n",
        "step2/text.md": "Fix A.\n", "step2/verify.sh": "#!/bin/bash\ntest -f /srv/app/a\n",
        "step3/text.md": "Create the user `app` (B needs it).\n", "step3/bg.sh": "#!/bin/bash\necho 3 > /srv/app/3\n",
        "step4/text.md": "Fix B.\n", "step4/verify.sh": "#!/bin/bash\ntest -f /srv/app/b\n",
        "step5/text.md": "Remove your notes.\n"})
    report = killercoda.import_scenario(src, tmp_path / "pack")
    pack = tmp_path / "pack"
    assert report.tasks == ["fix-a", "fix-b"]
    assert "### Read the manual\n\nThe app keeps its state in `/srv/app`." in \
        yaml.safe_load((pack / "pack.yaml").read_text())["description"]
    assert [s["script"] for s in task(pack, "fix-a")["setup"]] == ["../lib/step1-background.sh"]
    assert [s["script"] for s in task(pack, "fix-b")["setup"]] == ["../lib/step1-background.sh",
                                                                   "../lib/step3-background.sh"]
    b = (pack / "fix-b" / "description.md").read_text()
    assert b.startswith("### Create the user\n\nCreate the user `app` (B needs it).\n") and b.endswith("Fix B.\n")
    assert "Create the user" not in (pack / "fix-a" / "description.md").read_text()
    assert "### Cleanup notes\n\nRemove your notes." in task(pack, "fix-b")["explanation"]
    assert any("details.steps[2] ('Create the user'): no verify script" in n for n in report.notes)
    assert lint(str(pack)) == []


# --- 5. solutions and hints leave the text --------------------------------------------

SOLVED_TEXT = """Give `/srv/key` the mode 0600.

<details>
<summary><b>Hint</b></summary>

Which command changes a mode?

</details>

<details><summary>Show solution</summary>

```bash
chmod 0600 /srv/key
```

</details>

<details><summary>Background reading</summary>

Modes are bits.

</details>

## Solution

Or, in octal words:

```
chmod u=rw,go= /srv/key
```

## Afterwards

Check it with `stat`.
"""


def test_solutions_and_hints_are_moved_out_of_the_description(tmp_path):
    """5: <details> solutions and Solution sections were in description.md; show --solution was empty."""
    index = {"title": "Modes", "details": {"steps": [step("Protect the key", 1, verify="verify.sh")]}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": SOLVED_TEXT,
                                            "step1/verify.sh": "#!/bin/bash\ntest \"$(stat -c %a /srv/key)\" = 600\n"})
    killercoda.import_scenario(src, tmp_path / "pack")
    pack = tmp_path / "pack"
    desc = (pack / "protect-the-key" / "description.md").read_text()
    assert "chmod" not in desc and "Solution" not in desc and "Hint" not in desc
    assert "Modes are bits." in desc and "## Afterwards" in desc and "Check it with `stat`." in desc
    t = task(pack, "protect-the-key")
    assert t["hints"] == ["Which command changes a mode?"]
    script = (pack / "protect-the-key" / "solution.sh").read_text()
    assert "\nchmod 0600 /srv/key\n" in script and "\nchmod u=rw,go= /srv/key\n" in script
    assert "# Or, in octal words:" in script

    shown = grader("show", f"{pack}/protect-the-key")
    assert shown.returncode == 0, shown.stderr
    assert "chmod" not in shown.stdout and "1 hint(s)" in shown.stdout
    solved = grader("show", f"{pack}/protect-the-key", "--solution")
    assert "chmod 0600 /srv/key" in solved.stdout and "chmod u=rw,go= /srv/key" in solved.stdout


# --- 6. links that leave the scenario ---------------------------------------------------

@pytest.mark.parametrize("where", ["asset", "asset-folder", "assets-dir", "text", "verify", "background", "answer"])
def test_every_link_that_leaves_the_scenario_is_refused(tmp_path, where):
    """6: a linked asset was read from outside the folder and embedded into the pack."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "token").write_text("s3cr3t\n")
    index = {"title": "Links", "details": {
        "steps": [{"title": "One", "text": "step1/text.md", "verify": "step1/verify.sh",
                   "background": "step1/bg.sh", "answer": "step1/answer.md"}],
        "assets": {"host01": [{"file": "**", "target": "/root"}]}}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "step1/verify.sh": "#!/bin/bash\ntrue\n",
                                            "step1/bg.sh": "#!/bin/bash\ntrue\n", "step1/answer.md": "Nothing.\n",
                                            "assets/ok.txt": "fine\n"})
    link = {"asset": src / "assets" / "token", "asset-folder": src / "assets" / "sub", "text": src / "step1" / "text.md",
            "verify": src / "step1" / "verify.sh", "background": src / "step1" / "bg.sh",
            "answer": src / "step1" / "answer.md"}
    if where == "assets-dir":
        (src / "assets" / "ok.txt").unlink()
        (src / "assets").rmdir()
        (src / "assets").symlink_to(secret)
    else:
        path = link[where]
        if path.exists():
            path.unlink()
        path.symlink_to(secret if where == "asset-folder" else secret / "token")
    out = tmp_path / "pack"
    with pytest.raises(PackError, match=r"is a link that leaves the scenario folder .*refused"):
        killercoda.import_scenario(src, out)
    assert not out.exists()
    proc = grader("import", "killercoda", str(src), "-o", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not out.exists()


def test_a_link_inside_the_scenario_is_followed(tmp_path):
    index = {"title": "Links", "details": {"steps": [step("One", 1, verify="verify.sh")],
                                           "assets": {"host01": [{"file": "b.txt", "target": "/root"}]}}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "shared/check.sh": "#!/bin/bash\ntrue\n",
                                            "assets/a.txt": "A\n"})
    (src / "step1" / "verify.sh").symlink_to("../shared/check.sh")
    (src / "assets" / "b.txt").symlink_to("a.txt")
    killercoda.import_scenario(src, tmp_path / "pack")
    assert (tmp_path / "pack" / "one" / "verify.sh").read_text() == "#!/bin/bash\ntrue\n"
    assert "QQo=" in (tmp_path / "pack" / "lib" / "assets-controlplane.sh").read_text()   # base64 of "A\n"


# --- 7. assets as killercoda places them -------------------------------------------------

def test_assets_follow_killercoda_semantics(tmp_path):
    """7: '**' matched nothing, '~/' made a folder named '~', same-named nested files overwrote each other."""
    dest = tmp_path / "dest"
    index = {"title": "Assets", "details": {"steps": [step("One", 1, verify="verify.sh")], "assets": {"host01": [
        {"file": "**", "target": "~/all"},
        {"file": "web/**/*.conf", "target": f"{dest}/web", "chmod": "0600"},
        {"file": "tools/run.sh", "target": "~/", "chmod": "+x"},
        {"file": "web", "target": f"{dest}/copy"}]}}}
    src = scenario(tmp_path / "sc", index, {
        "step1/text.md": "Hi.\n", "step1/verify.sh": "#!/bin/bash\ntrue\n",
        "assets/web/a/site.conf": "A\n", "assets/web/b/site.conf": "B\n", "assets/web/readme.md": "R\n",
        "assets/tools/run.sh": "#!/bin/bash\necho run\n"})
    killercoda.import_scenario(src, tmp_path / "pack")
    script = tmp_path / "pack" / "lib" / "assets-controlplane.sh"
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["bash", str(script)], check=True, timeout=30, env={**os.environ, "HOME": str(home)})
    assert (home / "all" / "web" / "a" / "site.conf").read_text() == "A\n"
    assert (home / "all" / "web" / "b" / "site.conf").read_text() == "B\n"
    assert (home / "all" / "tools" / "run.sh").is_file()
    assert (dest / "web" / "a" / "site.conf").read_text() == "A\n"
    assert (dest / "web" / "b" / "site.conf").read_text() == "B\n"
    assert oct((dest / "web" / "a" / "site.conf").stat().st_mode & 0o777) == "0o600"
    assert not (dest / "web" / "readme.md").exists()
    assert os.access(home / "run.sh", os.X_OK) and not (home / "~").exists() and not Path("~").exists()
    assert (dest / "copy" / "web" / "readme.md").read_text() == "R\n"


def test_an_asset_glob_that_matches_nothing_is_an_error(tmp_path):
    index = {"title": "Assets", "details": {"steps": [step("One", 1, verify="verify.sh")],
                                            "assets": {"host01": [{"file": "*.yaml", "target": "/root"}]}}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "step1/verify.sh": "#!/bin/bash\ntrue\n",
                                            "assets/a.txt": "A\n"})
    with pytest.raises(PackError, match=r"details\.assets\.host01\[0\]\.file: no file under assets/ matches"):
        killercoda.import_scenario(src, tmp_path / "pack")


# --- 10. wrong types ----------------------------------------------------------------------

@pytest.mark.parametrize("change, key", [
    (lambda i: i.update(backend="ubuntu"), "backend"),
    (lambda i: i["details"].update(finish="finish.md"), "details.finish"),
    (lambda i: i["details"].update(intro="intro.md"), "details.intro"),
    (lambda i: i["details"].update(assets={"host01": {"file": "a", "target": "/"}}), "details.assets.host01"),
    (lambda i: i["details"]["steps"][0].update(verify=["v.sh"]), r"details.steps\[0\].verify"),
    (lambda i: i["details"].update(steps={"title": "x"}), "details.steps"),
])
def test_a_wrong_type_is_exit_2_naming_the_key_and_writes_nothing(tmp_path, change, key):
    """10: exit 4 with a traceback and a partial folder, or a silent skip."""
    index = {"title": "Types", "details": {"steps": [step("One", 1, verify="verify.sh")]},
             "backend": {"imageid": "ubuntu"}}
    change(index)
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "step1/verify.sh": "#!/bin/bash\ntrue\n"})
    out = tmp_path / "new" / "pack"
    proc = grader("import", "killercoda", str(src), "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    assert re.search(rf"index\.json: {key}: is ", proc.stderr), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "new").exists()


def test_a_failure_after_writing_began_leaves_nothing_and_a_rerun_works(tmp_path):
    """10: a failed import left a partial output folder that blocked the next run."""
    index = {"title": "Late", "details": {"steps": [step("One", 1, verify="verify.sh"),
                                                    step("Two", 2, verify="verify.sh")]}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "step1/verify.sh": "#!/bin/bash\ntrue\n",
                                            "step2/text.md": "Ho.\n"})
    out = tmp_path / "pack"
    proc = grader("import", "killercoda", str(src), "-o", str(out))
    assert proc.returncode == 2 and "details.steps[1].verify: file 'step2/verify.sh' not found" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".pack*"))
    (src / "step2" / "verify.sh").write_text("#!/bin/bash\ntrue\n")
    assert grader("import", "killercoda", str(src), "-o", str(out)).returncode == 0


# --- 11. the smaller ones ------------------------------------------------------------------

def test_long_titles_give_distinct_names(tmp_path):
    """11: names were cut to the same 40 characters."""
    long = "kubernetes-troubleshooting-practice-exercises-for-the-exam-part-"
    names = set()
    for part in ("one", "two"):
        index = {"title": "T", "details": {"steps": [step("S", 1, verify="verify.sh")]}}
        src = scenario(tmp_path / f"{long}{part}", index, {"step1/text.md": "Hi.\n",
                                                             "step1/verify.sh": "#!/bin/bash\ntrue\n"})
        killercoda.import_scenario(src, tmp_path / f"pack-{part}")
        names.add(yaml.safe_load((tmp_path / f"pack-{part}" / "pack.yaml").read_text())["name"])
    assert len(names) == 2 and all(len(n) <= 40 for n in names)


def test_time_crlf_bytes_empty_verify_and_lib(tmp_path):
    """11: '1 hour 30 minutes' was 60; CRLF and non-UTF-8 scripts were changed; an empty verify
    always passed; a step titled 'Lib' became the shared-scripts folder."""
    flag = tmp_path / "flag"
    flag.write_text("")
    index = {"title": "Odd", "time": "1 hour 30 minutes", "details": {"steps": [
        step("Lib", 1, verify="verify.sh"), step("Latin", 2, verify="verify.sh"), step("Nothing", 3, verify="verify.sh")]}}
    crlf = f"#!/bin/bash\r\ntest -f {flag}\r\n".encode()
    latin = b"#!/bin/bash\n# caf\xe9\nprintf '\xe9' | od -An -tx1 | grep -q e9\n"
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n", "step1/verify.sh": crlf,
                                            "step2/text.md": "Ho.\n", "step2/verify.sh": latin,
                                            "step3/text.md": "Nothing to do.\n",
                                            "step3/verify.sh": "#!/bin/bash\n# TODO\n\n"})
    report = killercoda.import_scenario(src, tmp_path / "pack")
    pack = tmp_path / "pack"
    assert report.tasks == ["lib-task", "latin"]
    assert task(pack, "lib-task")["minutes"] == 45.0
    assert any("details.steps[2].verify (step3/verify.sh): has no command" in n for n in report.notes)
    for task_id, original in (("lib-task", crlf), ("latin", latin)):
        wrapper = (pack / task_id / "verify.sh").read_text()
        data = re.search(r"<<'GRADER_ORIGINAL_BYTES'\n(.*?)GRADER_ORIGINAL_BYTES", wrapper, re.S).group(1)
        assert base64.b64decode(data) == original
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("hosts:\n  controlplane: {transport: local}\n")
    proc = grader("check", str(pack), "-i", str(inventory), "--json")
    statuses = {t["id"]: t["checks"][0]["status"] for t in json.loads(proc.stdout)["tasks"]}
    assert statuses == {"lib-task": "FAIL", "latin": "PASS"}     # CRLF fails under bash, as on killercoda
    assert subprocess.run(["bash", "-c", crlf.decode()], timeout=30).returncode != 0


def test_import_exits_2_when_the_pack_does_not_lint(tmp_path):
    """11: import exited 0 although the imported pack failed lint."""
    from needs import tool

    tool("shellcheck")
    index = {"title": "Lint", "details": {"steps": [step("One", 1, verify="verify.sh")]}}
    src = scenario(tmp_path / "sc", index, {"step1/text.md": "Hi.\n",
                                            "step1/verify.sh": "#!/bin/bash\nunused=1\ntrue\n"})
    proc = grader("import", "killercoda", str(src), "-o", str(tmp_path / "pack"), "--json")
    assert proc.returncode == 2, proc.stderr
    assert any("SC2034" in f["message"] for f in json.loads(proc.stdout)["lint"])
    assert (tmp_path / "pack" / "pack.yaml").is_file()           # written, to be fixed


def test_only_what_says_solution_or_hint_leaves_the_text():
    from grader.killercoda.markdown import split

    text = ("## Solution architecture\n\nThree tiers.\n\n**Tips and tricks**\n\nRead the logs.\n\n"
            "**Solution:**\n\n```\nkubectl get pods\n```\n\n## Hints\n\n- one\n- two\n")
    description, hints, solutions = split(text)
    assert "Three tiers." in description and "Read the logs." in description
    assert solutions == ["```\nkubectl get pods\n```"] and hints == ["one", "two"]
