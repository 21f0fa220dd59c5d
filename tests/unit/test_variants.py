"""Pure logic: the task keys `exclusive`, check `id`, `alternatives` and `near_misses` load and render."""
import pytest

from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.packs.loader import lint_pack, load_pack
from grader.packs.templating import render_task

TASK = """\
id: t
title: T
minutes: 1
exclusive: true
params: {ns: {choice: [a-ns, b-ns]}}
solution:
  - run: ip netns add {{ ns }}
checks:
  - id: exists
    name: namespace {{ ns }} exists
    run: ip netns list
  - name: second check
    run: 'true'
alternatives:
  - name: with a script
    steps:
      - script: alt.sh
        host: node01
  - name: by hand
    steps:
      - run: ip netns add {{ ns }} && true
near_misses:
  - name: wrong namespace
    steps:
      - run: ip netns add {{ ns }}-x
    fails: [exists, second check]
"""


def pack_dir(tmp_path, task_yaml=TASK, files=None):
    pack = tmp_path / "p"
    (pack / "t").mkdir(parents=True, exist_ok=True)
    (pack / "pack.yaml").write_text("name: p\ntitle: P\nversion: '1'\n")
    (pack / "t" / "task.yaml").write_text(task_yaml)
    (pack / "t" / "description.md").write_text("Do it.")
    for name, text in (files if files is not None else {"alt.sh": "echo alt\n"}).items():
        (pack / "t" / name).write_text(text)
    return pack


def test_new_keys_render_like_solution_steps(tmp_path):
    spec = load_pack(pack_dir(tmp_path)).tasks[0]
    task = render_task(spec, seed=3, inventory=killercoda_default())
    assert spec.exclusive and task.exclusive
    assert [c.id for c in task.checks] == ["exists", ""]
    (name, steps), second = task.alternatives
    assert name == "with a script" and steps[0].kind == "script" and steps[0].command == "echo alt\n"
    assert steps[0].host == "node01" and steps[0].label == "alternatives[0].steps[0]"
    ns = task.params["ns"]
    assert second.steps[0].command == f"ip netns add {ns} && true"        # rendered and quoted like solution
    (miss,) = task.near_misses
    assert miss.name == "wrong namespace" and miss.fails == (0, 1)
    assert miss.steps[0].command == f"ip netns add {ns}-x"


def test_defaults_when_absent(tmp_path):
    spec = load_pack(pack_dir(tmp_path, "id: t\ntitle: T\nminutes: 1\nchecks: [{name: c, run: 'true'}]\n")).tasks[0]
    task = render_task(spec, seed=0, inventory=killercoda_default())
    assert not task.exclusive and task.alternatives == () and task.near_misses == ()


def test_near_miss_names_a_check_by_its_name_as_written(tmp_path):
    yaml = TASK.replace("fails: [exists, second check]", "fails: ['namespace {{ ns }} exists', exists]")
    task = render_task(load_pack(pack_dir(tmp_path, yaml)).tasks[0], seed=0, inventory=killercoda_default())
    assert task.near_misses[0].fails == (0,)
    with pytest.raises(PackError, match="no check 'namespace a-ns exists'"):
        load_pack(pack_dir(tmp_path, TASK.replace("fails: [exists, second check]", "fails: ['namespace a-ns exists']")))


@pytest.mark.parametrize("change, message", [
    (("fails: [exists, second check]", "fails: [exist]"), "near miss names no check 'exist' (ids: exists"),
    (("  - name: by hand", "  - name: with a script"), "duplicate alternative name 'with a script'"),
    (("  - name: second check", "  - id: exists\n    name: second check"), "duplicate check id 'exists'"),
    (("id: exists", "id: Exists"), "does not match"),
    (("    fails: [exists, second check]\n", ""), "fails"),
    (("exclusive: true", "exclusive: yes please"), "exclusive"),
    (("  - name: wrong namespace", "  - name: wrong namespace\n    steps2: []"), "steps2"),
])
def test_bad_new_keys_are_one_line_errors(tmp_path, change, message):
    pack, problems = lint_pack(pack_dir(tmp_path, TASK.replace(*change)))
    assert problems, change
    text = "\n".join(str(p) for p in problems)
    assert message in text and "task.yaml" in text


def test_missing_alternative_script_is_named(tmp_path):
    _, problems = lint_pack(pack_dir(tmp_path, files={}))
    assert any("alt.sh" in str(p) and "alternatives[0].steps[0].script" in str(p) for p in problems)


def test_template_error_in_a_near_miss_names_its_key(tmp_path):
    with pytest.raises(PackError, match=r"near_misses\[0\]\.steps\[0\]\.run"):
        load_pack(pack_dir(tmp_path, TASK.replace("{{ ns }}-x", "{{ nope }}")))


# --- grader lint on the new keys -------------------------------------------------------------

def lint_messages(pack) -> list[str]:
    from grader.packs.findings import errors
    from grader.packs.lint import lint

    return [str(f) for f in errors(lint(str(pack)))]


def test_lint_accepts_the_new_keys(tmp_path):
    assert lint_messages(pack_dir(tmp_path)) == []


@pytest.mark.parametrize("change, message", [
    (("      - run: ip netns add {{ ns }} && true", "      - run: ip netns add {{ ns }}"),
     "alternatives[1].steps: alternative 'by hand' has the reference solution's steps"),
    (("      - run: ip netns add {{ ns }}-x", "      - run: ip netns add {{  ns }}"),
     "near_misses[0].steps: near miss 'wrong namespace' has the reference solution's steps, so it cannot lose"),
    (("      - run: ip netns add {{ ns }}-x", "      - run: ip netns add {{ ns }} && true"),
     "near_misses[0].steps: near miss 'wrong namespace' has the same steps as alternative 'by hand'"),
    (("fails: [exists, second check]", "fails: [exists, third check]"),
     "near miss names no check 'third check'"),
    (("  - name: by hand", "  - name: with a script"), "duplicate alternative name 'with a script'"),
])
def test_lint_refuses_variants_that_prove_nothing(tmp_path, change, message):
    found = lint_messages(pack_dir(tmp_path, TASK.replace(*change)))
    assert any(message in f and "task.yaml:" in f for f in found), found


def test_lint_shellchecks_the_variants_steps(tmp_path):
    found = lint_messages(pack_dir(tmp_path, TASK.replace("ip netns add {{ ns }}-x", "echo $undefined_thing`")))
    assert any("near_misses[0].steps[0]" in f for f in found), found
