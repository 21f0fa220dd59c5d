from __future__ import annotations

from grader.report.markdown import inline_html, parse, plain, to_html


def test_raw_html_is_escaped():
    out = to_html("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> **<b>x</b>**")
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<strong>&lt;b&gt;x&lt;/b&gt;</strong>" in out


def test_links_and_images_never_become_href_or_src():
    out = to_html('[docs](https://kubernetes.io "t") ![pic](http://x/y.png) <https://a.b/c> [js](javascript:alert(1))')
    assert "href" not in out and "src" not in out
    assert '<span class="md-link">docs</span> <span class="md-url">(https://kubernetes.io)</span>' in out
    assert "<em>pic</em>" in out and "https://a.b/c" in out and "javascript:alert(1)" in out


def test_inline_styles():
    assert inline_html("a `b <c>` **d** *e* _f_ snake_case_name \\*g\\*") == (
        "a <code>b &lt;c&gt;</code> <strong>d</strong> <em>e</em> <em>f</em> snake_case_name *g*")
    assert inline_html('say "hi" & \'bye\'') == "say &quot;hi&quot; &amp; &#x27;bye&#x27;"
    assert plain("**bold** and `code`") == "bold and code"


def test_blocks():
    text = ("Title\n=====\n\n## Sub #\n\npara line one\nline two\n\n- a\n- b\n  1. x\n  2. y\n\n"
            "3. three\n4. four\n\n```yaml\nkey: <v>\n```\n\n    indented\n\n> quoted\n\n---\n\n"
            "| h1 | h2 |\n| --- | :-: |\n| a | b \\| c |\n")
    kinds = [(b.kind, b.text or b.level) for b in parse(text)]
    assert kinds[:3] == [("heading", "Title"), ("heading", "Sub"), ("para", "para line one\nline two")]
    out = to_html(text)
    assert '<h3 class="md-h">Title</h3>' in out and '<h4 class="md-h">Sub</h4>' in out
    assert "<ul><li>a</li>\n<li>b\n<ol><li>x</li>\n<li>y</li></ol></li></ul>" in out
    assert '<ol start="3"><li>three</li>' in out
    assert '<pre class="md-code" data-lang="yaml"><code>key: &lt;v&gt;</code></pre>' in out
    assert '<pre class="md-code"><code>indented</code></pre>' in out
    assert "<blockquote><p>quoted</p></blockquote>" in out and "<hr>" in out
    assert "<th>h1</th><th>h2</th>" in out and "<td>b | c</td>" in out


def test_unclosed_fence_and_odd_input():
    assert "<code>x\ny</code>" in to_html("```\nx\ny")
    assert to_html("") == "" and to_html(None) == ""
    assert to_html("**not closed") == "<p>**not closed</p>"
    assert to_html("a\r\nb") == "<p>a b</p>"
