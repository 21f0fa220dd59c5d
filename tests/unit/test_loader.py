"""The loader: shared lib/ scripts, paths that leave the pack, and where errors point."""
from pathlib import Path

import pytest

from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.packs.loader import load_pack
from grader.packs.templating import render_task


def make_pack(tmp_path: Path, script: str) -> Path:
    pack = tmp_path / "p"
    (pack / "t").mkdir(parents=True)
    (pack / "lib").mkdir()
    (pack / "lib" / "teardown.sh").write_text('echo "tearing down $NS"\n')
    (pack / "pack.yaml").write_text("name: p\ntitle: P\nversion: '1'\n")
    (pack / "t" / "task.yaml").write_text(f"id: t\ntitle: T\nminutes: 1\nparams: {{ns: myns}}\n"
                                          f"reset:\n  - script: {script}\nchecks: [{{name: c, run: 'true'}}]\n")
    (pack / "t" / "description.md").write_text("x\n")
    return pack


def test_a_task_may_use_a_shared_lib_script(tmp_path):
    pack = load_pack(make_pack(tmp_path, "../lib/teardown.sh"))
    task = render_task(pack.tasks[0], seed=0, inventory=killercoda_default())
    assert task.reset[0].command == 'echo "tearing down $NS"\n' and task.env["NS"] == "myns"


@pytest.mark.parametrize("script", ["../../outside.sh", "/etc/passwd"])
def test_a_script_outside_the_pack_is_refused(tmp_path, script):
    (tmp_path / "outside.sh").write_text("echo no\n")
    with pytest.raises(PackError, match=r"task.yaml:6: reset\[0\].script: .* points outside the pack"):
        load_pack(make_pack(tmp_path, script))


def test_a_folder_that_is_neither_a_task_nor_lib_is_reported(tmp_path):
    pack = make_pack(tmp_path, "../lib/teardown.sh")
    (pack / "notes").mkdir()
    with pytest.raises(PackError, match=r"notes: folder 'notes' has no task.yaml"):
        load_pack(pack)


@pytest.mark.parametrize("name", ["path", "ifs", "home", "grader_x", "bash_env", "kubeconfig"])
def test_a_param_that_would_clobber_a_shell_variable_is_refused(tmp_path, name):
    pack = make_pack(tmp_path, "../lib/teardown.sh")
    text = (pack / "t" / "task.yaml").read_text().replace("params: {ns: myns}", f"params: {{ns: myns, {name}: x}}")
    (pack / "t" / "task.yaml").write_text(text)
    with pytest.raises(PackError, match=rf"task.yaml:4: params.{name}: param '{name}' would become"):
        load_pack(pack)
