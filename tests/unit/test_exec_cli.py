"""`grader exec HOST -- CMD`: several words are an argv (each arrives as given), one word is
a shell command line.  Run for real on a local-transport host; the same over SSH on the lab
in tests/integration/test_exec_lab.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli.core import exec_command
from grader.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


def grader(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def local(tmp_path) -> Path:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("hosts:\n  controlplane: {transport: local}\n")
    return inventory


def test_several_words_are_an_argv(local, tmp_path):
    proc = grader("exec", "controlplane", "-i", local, "--", "sh", "-c", "echo x > f", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "f").read_text() == "x\n"        # sh got 'echo x > f' as one argument
    proc = grader("exec", "controlplane", "-i", local, "--", "printf", "[%s]\n", "a b", "$HOME", "*", "--", "'",
                  cwd=tmp_path)
    assert proc.stdout == "[a b]\n[$HOME]\n[*]\n[--]\n[']\n", proc.stderr


def test_one_word_is_a_shell_command_line(local, tmp_path):
    proc = grader("exec", "controlplane", "-i", local, "--", "echo one | tr o O > g; cat g; exit 3", cwd=tmp_path)
    assert proc.returncode == 3 and proc.stdout == "One\n"
    # without --, one word works the same
    proc = grader("exec", "controlplane", "-i", local, "echo $((6 * 7))", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "42\n"


def test_options_after_the_host_and_the_exit_code_pass_through(local, tmp_path):
    proc = grader("exec", "controlplane", "--timeout", "10", "-i", local, "--", "sh", "-c", "exit 7", cwd=tmp_path)
    assert proc.returncode == 7, proc.stderr


def test_what_is_sent():
    assert exec_command(["sh", "-c", "echo x > f"]) == "sh -c 'echo x > f'"
    assert exec_command(["grep", "--", "-v", "a file"]) == "grep -- -v 'a file'"
    assert exec_command(["ip -br a | grep eth0"]) == "ip -br a | grep eth0"
    with pytest.raises(UsageError, match="no command"):
        exec_command([])


def test_no_command_is_bad_input(local, tmp_path):
    proc = grader("exec", "controlplane", "-i", local, "--", cwd=tmp_path)
    assert proc.returncode == 2 and "no command" in proc.stderr


def test_help_documents_both_forms_with_examples(tmp_path):
    text = grader("exec", "--help", cwd=tmp_path).stdout
    assert "grader exec node01 -- sh -c 'echo x > /tmp/f'" in text
    assert "One word is a shell command line" in text and "Several words after -- are a command" in text
