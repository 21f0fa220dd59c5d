from __future__ import annotations

try:
    from .test_report_fixtures import XSS_ACTUAL, passing_run, sample_run
except ImportError:
    from test_report_fixtures import XSS_ACTUAL, passing_run, sample_run

from grader.report.terminal import render_markdown, render_run, visible_len


def test_summary_plain():
    out = render_run(sample_run(), color=False, width=100)
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].startswith("CKA troubleshooting drills (cka-troubleshooting 1.2.0)")
    assert "seed 4242" in lines[0] and "time used 52:30 of 1:00:00" in lines[1]
    task_lines = [ln for ln in lines if ln[:5] in ("PASS ", "FAIL ", "ERROR")]
    assert [ln.split()[0] for ln in task_lines] == ["PASS", "FAIL", "ERROR"]
    assert "5/5 pts" in task_lines[0] and "[flagged]" in task_lines[1]
    assert all(visible_len(ln) <= 100 for ln in lines if not ln.startswith("        "))
    assert any(ln.strip().startswith("✓ kubelet active") for ln in lines)
    # evidence only for checks that did not pass
    assert f"found: {XSS_ACTUAL}" in out and "why: only 1 replica is available" in out
    assert "found: active" not in out
    assert "0/2 not judged" in out and "fix the environment: kubectl cannot reach the apiserver" in out
    assert "score 50% (7/14 points) · pass mark 66%" in out
    assert "1 check not judged (2 points)" in out
    assert lines[-1] == "INCOMPLETE"


def test_control_characters_in_evidence_do_not_reach_the_terminal():
    out = render_run(sample_run(), color=False)
    assert "\x1b[31m" not in out and "\x01" not in out
    assert "stdout: connected??[31m" in out


def test_summary_colour_and_verdicts():
    out = render_run(sample_run(), color=True)
    assert "\x1b[33;1mINCOMPLETE\x1b[0m" in out and "\x1b[31;1mFAIL" in out
    passed = render_run(passing_run(), color=False)
    assert passed.rstrip().endswith("PASSED") and "expected:" not in passed
    late = sample_run(late=True)
    assert "LATE" in render_run(late, color=False).splitlines()[1]


def test_markdown_plain():
    text = ("# Fix the pod\n\nThe pod `web` in **prod** is *broken*. See [docs](https://k8s.io).\n\n"
            "1. first\n2. second\n   - nested\n\n```bash\nkubectl get pods\n```\n\n> note\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n")
    out = render_markdown(text, color=False)
    lines = out.splitlines()
    assert lines[:2] == ["Fix the pod", "==========="]
    assert "The pod `web` in prod is broken. See docs <https://k8s.io>." in out
    assert "1. first" in lines and "2. second" in lines and "   • nested" in lines
    assert "    kubectl get pods" in lines
    assert "│ note" in lines
    assert "a  b" in lines and "1  2" in lines
    assert "**" not in out and "\x1b" not in out


def test_markdown_colour_and_wrapping():
    out = render_markdown("## Step\n\nrun `kubectl` **now**", color=True)
    assert "\x1b[1;4mStep\x1b[0m" in out and "\x1b[36mkubectl\x1b[0m" in out and "\x1b[1mnow\x1b[0m" in out
    long = " ".join(["word"] * 60)
    wrapped = render_markdown(long, color=False, width=40).splitlines()
    assert len(wrapped) > 5 and all(len(ln) <= 40 for ln in wrapped)
    bullets = render_markdown("- " + long, color=False, width=40).splitlines()
    assert bullets[0].startswith("• word") and all(ln.startswith("  word") for ln in bullets[1:])
    assert render_markdown("", color=False) == ""
