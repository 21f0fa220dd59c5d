"""Security through the whole pipeline, on this machine (a `transport: local` inventory).

* Injection: every param interpolated into a command is quoted.  A pack whose params
  are `choice`s of hostile strings ($(...), backticks, `; rm -rf`, newlines, quotes,
  Jinja syntax) goes through setup, check, solve, reset and validate; no sentinel
  file appears, the canary folder survives, and every command, script, copied file,
  file check and kubectl call received the literal string.
* Escaping: what a candidate controls (command output, file content, kubectl answers,
  resource names) and what a pack says, planted with <script> and <img onerror>
  payloads, comes out inert in the HTML report, well-formed in JUnit, and without
  terminal escapes on the terminal.
* Redaction: the values a sensitive check (or a kube check on a Secret) sees never
  appear in any output: terminal, --json, results.json, HTML, JUnit, `grader report`.

`injection_pack`, `fake_kubectl` and `assert_received_literally` are shared with
tests/integration/test_injection.py, which runs the same pack on the lab.
"""
from __future__ import annotations

import base64
import html.parser
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from grader.cli import main

PWNED = Path("/tmp/pwned")


def payloads(sentinels: Path, canary: Path) -> list[str]:
    s = sentinels
    return [
        "$(touch /tmp/pwned)",
        f"$(touch {s}/dollar-paren)",
        f"`touch {s}/backticks`",
        f"; touch {s}/semicolon",
        f"x && touch {s}/and-and",
        f"| touch {s}/pipe",
        f"a\ntouch {s}/newline\nb",
        f"'; touch {s}/single-quote; '",
        f"\"; touch {s}/double-quote; \"",
        f"; rm -rf {canary}",
        f"$(rm -rf {canary})",
        f"${{IFS}}touch${{IFS}}{s}/ifs",
        f"\\\"$(touch {s}/backslash)\\\"",
        f"> {s}/redirect",
        "{{ 7*7 }} {% if true %}jinja{% endif %}",
        "-n --help",
        "  leading and trailing spaces  ",
    ]


DUMP_SCRIPT = """\
# every param arrives as an environment variable: P0, P1, ...
for i in $(seq 0 $((COUNT - 1))); do
  v="P$i"
  printf '%s' "${!v}" > "$OUT/script-$i"
done
"""

FAKE_KUBECTL = """\
#!/bin/bash
# records its arguments (NUL-separated), one file per call, and says the object exists
f=$(mktemp -p {record} argv.XXXXXX)
printf '%s\\0' "$@" > "$f"
echo pod/x
"""


def fake_kubectl(path: Path, record: Path) -> Path:
    record.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_KUBECTL.format(record=record))
    path.chmod(0o755)
    return path


def kubectl_calls(record: Path) -> list[list[str]]:
    return [f.read_bytes().decode().split("\0")[:-1] for f in sorted(record.glob("argv.*"))]


def injection_pack(root: Path, out: Path, values: list[str], *, hosts=("controlplane",)) -> Path:
    """A pack whose param P<i> is a choice of one hostile value; every step and check
    writes or reads it in a way that shows whether it arrived literally."""
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "injection", "title": "Injection", "version": "0.1.0",
                                                    "target": "linux", "hosts": list(hosts)}))
    task = root / "t1"
    task.mkdir()
    params = {f"p{i}": {"choice": [v]} for i, v in enumerate(values)}
    params.update(out={"choice": [str(out)]}, count=len(values))
    setup, solution, reset, checks = [], [], [], []
    for i in range(len(values)):
        host = hosts[i % len(hosts)]
        p = f"{{{{ p{i} }}}}"
        setup.append({"run": f"printf '%s' {p} > {{{{ out }}}}/setup-{i}", "host": host})
        setup.append({"copy": f"copy-{i}.txt", "to": f"{{{{ out }}}}/copy-{i}", "host": host})
        (task / f"copy-{i}.txt").write_text(p)
        solution.append({"run": f"printf '%s' {p} > {{{{ out }}}}/solve-{i}", "host": host})
        reset.append({"run": f"printf '%s' {p} > {{{{ out }}}}/reset-{i}", "host": host})
        checks.append({"name": f"run p{i}", "host": host, "run": f"printf '%s' {p}",
                       "expect": {"stdout": {"equals": p}}, "passes_before_fix": True})
        checks.append({"name": f"file p{i}", "host": host, "file": f"{{{{ out }}}}/f{p}",
                       "expect": {"exists": True, "type": "file", "content": {"equals": f"literal {i}"}},
                       "passes_before_fix": True})
        checks.append({"name": f"kube p{i}", "kube": {"resource": "pod", "name": p, "namespace": p},
                       "passes_before_fix": True})
        checks.append({"name": f"kube selector p{i}", "kube": {"resource": "pod", "selector": p},
                       "passes_before_fix": True})
    setup.append({"script": "dump.sh", "host": hosts[0]})
    (task / "dump.sh").write_text(DUMP_SCRIPT)
    (task / "task.yaml").write_text(yaml.safe_dump(
        {"id": "t1", "title": "Injection", "minutes": 1, "params": params,
         "description": "Values: " + " ".join(f"{{{{ p{i} }}}}" for i in range(len(values))),
         "setup": setup, "solution": solution, "reset": reset, "checks": checks}, sort_keys=False))
    # the files the file checks look for, at their literal paths
    for i, value in enumerate(values):
        path = Path(f"{out}/f{value}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"literal {i}")
    return root


def assert_received_literally(out: Path, values: list[str], record: Path, *, sections=("setup", "solve", "reset")):
    for i, value in enumerate(values):
        for prefix in (*sections, "copy", "script"):
            got = (out / f"{prefix}-{i}").read_text()
            assert got == value, f"{prefix} of p{i}: {got!r} != {value!r}"
    calls = [c for c in kubectl_calls(record) if "get" in c]   # not the grouping's `api-resources`
    for value in values:
        assert any(c[c.index("get") + 1:c.index("get") + 5] == ["pod", value, "-n", value] for c in calls), \
            f"no kubectl call got the name and namespace {value!r} as single arguments: {calls[:3]}"
        assert any(c[c.index("get") + 1:c.index("get") + 4] == ["pod", "-l", value] for c in calls), \
            f"no kubectl call got the selector {value!r} as one argument"


def assert_nothing_ran(sentinels: Path, canary: Path) -> None:
    assert list(sentinels.iterdir()) == [], f"injected commands ran: {sorted(p.name for p in sentinels.iterdir())}"
    assert canary.is_dir() and (canary / "keep").is_file(), "the canary folder was removed"


@pytest.fixture
def no_pwned():
    assert not PWNED.exists(), f"{PWNED} exists before the test; remove it"
    yield
    assert not PWNED.exists(), f"{PWNED} was created: an injected command ran"


@pytest.fixture
def scene(tmp_path, monkeypatch, no_pwned):
    monkeypatch.delenv("GRADER_INVENTORY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    sentinels, canary, out, record = (tmp_path / n for n in ("sentinels", "canary", "out", "kubectl-calls"))
    for d in (sentinels, canary, out):
        d.mkdir()
    (canary / "keep").write_text("keep me\n")
    return sentinels, canary, out, record


def local_inventory(path: Path, kubectl: Path | None = None) -> Path:
    data = {"name": "local", "hosts": {"controlplane": {"transport": "local"}}}
    if kubectl:
        data["kubectl"] = str(kubectl)
    path.write_text(yaml.safe_dump(data))
    return path


def run(*argv) -> int:
    return main([str(a) for a in argv])


# --- injection ----------------------------------------------------------------------

def test_params_are_never_executed(scene, tmp_path, capsys):
    sentinels, canary, out, record = scene
    values = payloads(sentinels, canary)
    pack = injection_pack(tmp_path / "pack", out, values)
    inv = local_inventory(tmp_path / "inv.yaml", fake_kubectl(tmp_path / "kubectl", record))
    assert run("setup", pack, "-i", inv) == 0
    assert run("check", pack, "-i", inv, "-o", tmp_path / "reports") == 0, capsys.readouterr().out
    assert run("solve", pack, "-i", inv) == 0
    assert run("reset", pack, "-i", inv) == 0
    capsys.readouterr()
    assert_nothing_ran(sentinels, canary)
    assert_received_literally(out, values, record)
    # validate runs them all again (passes_before_fix: the checks pass throughout)
    assert run("validate", pack, "-i", inv) == 0, capsys.readouterr().out
    assert_nothing_ran(sentinels, canary)


def test_show_and_description_keep_values_literal(scene, tmp_path, capsys):
    sentinels, canary, out, _ = scene
    values = payloads(sentinels, canary)
    pack = injection_pack(tmp_path / "pack", out, values)
    assert run("show", f"{pack}/t1", "-i", local_inventory(tmp_path / "inv.yaml"), "--json", "--solution") == 0
    shown = json.loads(capsys.readouterr().out)
    assert "{{ 7*7 }} {% if true %}jinja{% endif %}" in shown["description"]   # values are not templates
    # nothing rendered 7*7 (the payloads name paths under tmp_path, which may hold "49" itself)
    assert "49" not in shown["description"].replace(str(tmp_path), "")
    assert_nothing_ran(sentinels, canary)


# --- escaping -------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ATTR = "\" onmouseover=\"alert(2)"
ANSI = "\x1b[2J\x1b]0;owned\x07"
EVIL = f"{SCRIPT} {IMG} {ATTR} {ANSI}"


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def _escape_pack(root: Path, evil_file: Path) -> Path:
    root.mkdir()
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "escaping", "title": f"Pack {SCRIPT}",
                                                    "version": "0.1.0", "target": "linux",
                                                    "hosts": ["controlplane"]}))
    (root / "t1").mkdir()
    checks = [
        {"name": "stdout {{ evil }}", "run": f"cat {evil_file}", "expect": {"stdout": "clean"}},
        {"name": "stderr", "run": f"cat {evil_file} >&2; exit 3"},
        {"name": "file content", "file": str(evil_file), "expect": {"content": {"equals": "clean"}}},
        {"name": "kube value", "kube": {"resource": "pod", "name": "{{ evil }}"},
         "expect": {"jsonpath": "{.metadata.name}", "value": "clean"}},
        {"name": "kube error", "kube": {"resource": "deployment", "name": "x"}},
    ]
    (root / "t1" / "task.yaml").write_text(yaml.safe_dump(
        {"id": "t1", "title": f"Task {SCRIPT}", "domain": f"Domain {IMG}", "minutes": 1,
         "params": {"evil": {"choice": [EVIL]}}, "description": "Say {{ evil }}\n\n<script>alert(3)</script>",
         "hints": ["{{ evil }}"], "explanation": IMG, "solution": [{"run": "echo {{ evil }}"}],
         "checks": checks}, sort_keys=False))
    return root


ESCAPE_KUBECTL = """\
#!/bin/bash
case " $* " in
  *" deployment "*) echo "Unable to connect to the server: $(cat {evil_file})" >&2; exit 1 ;;
  *) cat {evil_file} ;;
esac
"""


def test_candidate_text_is_escaped_everywhere(scene, tmp_path, capsys):
    evil_file = tmp_path / "evil.txt"
    evil_file.write_text(EVIL + "\n")
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(ESCAPE_KUBECTL.format(evil_file=evil_file))
    kubectl.chmod(0o755)
    pack = _escape_pack(tmp_path / "pack", evil_file)
    inv = local_inventory(tmp_path / "inv.yaml", kubectl)
    reports = tmp_path / "reports"
    code = run("check", pack, "-i", inv, "-o", reports)
    terminal = capsys.readouterr()
    assert code == 3                                # the kube error is an ERROR
    assert run("report", reports / "results.json", "--html", tmp_path / "again.html",
               "--junit", tmp_path / "again.xml") == 3
    assert run("report", reports / "results.json") == 3
    terminal2 = capsys.readouterr()

    results = json.loads((reports / "results.json").read_text())
    checks = {c["name"].split(" ")[0]: c for t in results["tasks"] for c in t["checks"]}
    assert SCRIPT in checks["stdout"]["actual"] and SCRIPT in checks["kube"]["actual"], "the payload was not planted"
    assert SCRIPT in checks["stderr"]["actual"] and IMG in checks["file"]["actual"]
    assert SCRIPT in [c for c in results["tasks"][0]["checks"] if c["status"] == "ERROR"][0]["message"]

    for page in (reports / "report.html", tmp_path / "again.html"):
        text = page.read_text()
        tags = _Tags()
        tags.feed(text)
        assert "script" not in tags.tags and "img" not in tags.tags, f"{page}: a planted tag is live"
        assert not [a for a in tags.attrs if a.startswith("on")], f"{page}: an event handler attribute is live"
        assert "&lt;script&gt;" in text and "&lt;img" in text, f"{page}: the payload is missing (not escaped)"
        assert "\x1b" not in text and "\x07" not in text

    for junit in (reports / "junit.xml", tmp_path / "again.xml"):
        root = ET.parse(junit).getroot()          # well-formed despite the payload
        texts = " ".join((el.text or "") + " ".join(el.attrib.values()) for el in root.iter())
        assert SCRIPT in texts and IMG in texts
        assert "\x1b" not in junit.read_text()

    for out in (terminal.out, terminal.err, terminal2.out, terminal2.err):
        assert "\x1b" not in out and "\x07" not in out, "a terminal escape from the candidate reached the terminal"


# --- redaction ------------------------------------------------------------------------

CANDIDATE = "CANDIDATE-s3cret-9f8e7d"
SECRET_KUBECTL = """\
#!/bin/bash
# a Secret whose data.password is the candidate's value
case " $* " in
  *"{{.data.password}}"*) printf '%s' {b64} ;;
  *"{{.data.raw}}"*) printf '%s' {b64} ;;
  *) echo secret/db ;;
esac
"""


def _secret_pack(root: Path, secret_file: Path) -> Path:
    root.mkdir()
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "redaction", "title": "Redaction", "version": "0.1.0",
                                                    "target": "linux", "hosts": ["controlplane"]}))
    (root / "t1").mkdir()
    f = str(secret_file)
    checks = [
        {"name": "run stdout", "sensitive": True, "run": f"cat {f}", "expect": {"stdout": {"equals": "{{ password }}"}}},
        {"name": "run stderr", "sensitive": True, "run": f"cat {f} >&2; exit 1"},
        {"name": "run passes", "sensitive": True, "run": f"cat {f}", "expect": {"stdout": CANDIDATE}},
        {"name": "run regex", "sensitive": True, "run": f"cat {f}", "expect": {"stdout": {"regex": "^{{ password }}$"}}},
        {"name": "file content", "sensitive": True, "file": f, "expect": {"content": {"contains": "{{ password }}"}}},
        {"name": "secret decoded", "kube": {"resource": "secret", "name": "db"},
         "expect": {"jsonpath": "{.data.password}", "decode": "base64", "value": "{{ password }}"}},
        {"name": "secret raw", "kube": {"resource": "secrets", "name": "db"},
         "expect": {"jsonpath": "{.data.raw}", "value": {"equals": "{{ password }}"}}},
        {"name": "times out", "sensitive": True, "run": f"cat {f}; sleep 30", "timeout": 1},
    ]
    (root / "t1" / "task.yaml").write_text(yaml.safe_dump(
        {"id": "t1", "title": "Secrets", "minutes": 1, "params": {"password": {"token": 16}},
         "description": "Store the password you were given in the secret db.", "checks": checks},
        sort_keys=False))
    return root


def test_sensitive_values_never_appear(scene, tmp_path, capsys):
    secret_file = tmp_path / "candidate-secret"
    secret_file.write_text(CANDIDATE + "\n")
    b64 = base64.b64encode(CANDIDATE.encode()).decode()
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(SECRET_KUBECTL.format(b64=b64))
    kubectl.chmod(0o755)
    pack = _secret_pack(tmp_path / "pack", secret_file)
    inv = local_inventory(tmp_path / "inv.yaml", kubectl)
    reports = tmp_path / "reports"

    from grader.inventory import load
    from grader.packs.loader import load_pack
    from grader.packs.templating import draw_params
    spec = load_pack(pack, inventory=load(inv)).tasks[0]
    password = draw_params(spec, 0)["password"]

    outputs = []
    for argv in (["check", pack, "-i", inv, "-o", reports], ["check", pack, "-i", inv, "--json"],
                 ["report", reports / "results.json"],
                 ["report", reports / "results.json", "--html", tmp_path / "r.html", "--junit", tmp_path / "r.xml"]):
        run(*argv)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    files = [reports / "results.json", reports / "report.html", reports / "junit.xml", tmp_path / "r.html",
             tmp_path / "r.xml"]
    outputs += [p.read_text() for p in files]

    results = json.loads((reports / "results.json").read_text())
    got = {c["name"]: c for t in results["tasks"] for c in t["checks"]}
    assert got["run passes"]["status"] == "PASS"
    assert got["times out"]["status"] == "ERROR"
    for name in ("run stdout", "run stderr", "run regex", "file content", "secret decoded", "secret raw"):
        assert got[name]["status"] == "FAIL", got[name]
        assert "hidden" in got[name]["actual"], got[name]       # it says a value was there
    for text in outputs:
        for secret in (CANDIDATE, b64, password):
            assert secret not in text, f"a sensitive value leaked: {secret!r} in {text[:2000]!r}"
