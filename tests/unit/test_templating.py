"""Pure logic: params, rendering, automatic shell quoting (no I/O beyond reading test packs)."""
import shlex
from pathlib import Path

import pytest

from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.packs.loader import load_pack
from grader.packs.templating import draw_params, quoted_expressions, render_task

MINI = Path(__file__).parent.parent / "data" / "packs" / "mini"


def spec(tmp_path, task_yaml, description="Do it."):
    pack = tmp_path / "p"
    (pack / "t").mkdir(parents=True, exist_ok=True)
    (pack / "pack.yaml").write_text("name: p\ntitle: P\nversion: '1'\n")
    (pack / "t" / "task.yaml").write_text(task_yaml)
    (pack / "t" / "description.md").write_text(description)
    return pack


def test_same_seed_same_task_other_seed_may_differ():
    pack = load_pack(MINI)
    task = pack.task("hello-file")
    draws = {draw_params(task, s)["dir"] for s in range(20)}
    assert draw_params(task, 7) == draw_params(task, 7)
    assert draws == {"/tmp/grader-mini-a", "/tmp/grader-mini-b"}


def test_token_and_randint(tmp_path):
    pack = load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\nparams: {pw: {token: 12}, port: {randint: [8000, 8010]}}\n"
                                    "checks: [{name: c, run: 'true'}]\n"))
    p = draw_params(pack.tasks[0], 1)
    assert len(p["pw"]) == 12 and p["pw"].isalnum() and 8000 <= p["port"] <= 8010


def test_commands_quote_every_value(tmp_path):
    hostile = "$(touch /tmp/pwned); rm -rf x"
    pack = load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\n"
                                    f"params: {{v: {{choice: ['{hostile}']}}}}\n"
                                    "setup:\n  - run: echo {{ v }} > /tmp/out\n"
                                    "checks:\n  - name: c\n    run: cat {{ v | raw }}\n"
                                    "    expect: {stdout: '{{ v }}'}\n"))
    task = render_task(pack.tasks[0], seed=0, inventory=killercoda_default())
    assert task.setup[0].command == f"echo {shlex.quote(hostile)} > /tmp/out"
    assert task.checks[0].target == f"cat {hostile}"              # raw: the author's explicit choice
    assert task.checks[0].expect == {"stdout": hostile}           # values are not shell text: no quoting


@pytest.mark.parametrize("template,bad", [
    ("echo {{ x }}", False), ("echo \"{{ x }}\"", True), ("echo '{{ x }}'", True),
    ("grep \"^{{ x }}$\" f", True), ("echo \"{{ x | raw }}\"", False), ("echo \"a\" {{ x }} 'b'", False),
])
def test_quoted_expressions_are_refused(template, bad):
    assert quoted_expressions(template) is bad


def test_lint_refuses_quotes_around_expressions(tmp_path):
    with pytest.raises(PackError, match=r"task.yaml:6: setup\[0\].run: do not put"):
        load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\nparams: {v: x}\nsetup:\n  - run: echo '{{ v }}'\n"
                                 "checks: [{name: c, run: 'true'}]\n"))


def test_undefined_names_are_errors_with_place(tmp_path):
    with pytest.raises(PackError, match=r"task.yaml:\d+: checks\[0\].run: template error: 'nope' is undefined"):
        load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\nchecks:\n  - name: c\n    run: echo {{ nope }}\n"))
    with pytest.raises(PackError, match=r"description.md: template error"):
        load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\nchecks: [{name: c, run: 'true'}]\n",
                       description="{{ missing }}"))


def test_inventory_facts_and_script_env():
    task = render_task(load_pack(MINI).task("count-lines"), seed=0, inventory=killercoda_default())
    assert task.env["GRADER_HOST_NODE01_IP"] == "172.30.2.2"
    assert task.env["GRADER_KUBE_HOST"] == "controlplane"


def test_secret_checks_are_sensitive(tmp_path):
    pack = load_pack(spec(tmp_path, "id: t\ntitle: T\nminutes: 1\nchecks:\n  - name: c\n"
                                    "    kube: {resource: secret, name: s}\n"
                                    "    expect: {jsonpath: '{.data.pw}', value: x, decode: base64}\n"))
    task = render_task(pack.tasks[0], seed=0, inventory=killercoda_default())
    assert task.checks[0].sensitive
