"""Issue 19, item 3: no text a program, a model or a server produces crashes the store, the
`grade` command or a verdict (lone surrogates included), and what crosses is bounded."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from capability_tests.safe_text import safe_text
from capability_tests.seeds import SEED_POLICY
from capability_tests.store import CompletionStore, GenerationKey, NewSample

# every code point, lone surrogates included (what json.loads("\"\\ud800\"") produces)
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                          blacklist_categories=()), max_size=200)


@given(ANY_TEXT)
def test_safe_text_is_valid_utf8_and_keeps_valid_text(text):
    out = safe_text(text)
    out.encode("utf-8")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert "\\ud" in out or "\\ue" in out or "\\udf" in out.lower()
    else:
        assert out == text


@given(ANY_TEXT, st.integers(min_value=20, max_value=100))
def test_safe_text_is_bounded(text, limit):
    assert len(safe_text(text * 10, limit)) <= limit


@settings(max_examples=60, deadline=None)
@given(problem=ANY_TEXT, text=ANY_TEXT, finish=ANY_TEXT, extracted=ANY_TEXT, reason=ANY_TEXT,
       grading=ANY_TEXT)
def test_the_store_writes_any_text_in_every_field(tmp_path_factory, problem, text, finish,
                                                   extracted, reason, grading):
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    store = CompletionStore(path)
    try:
        key = GenerationKey("m", "e", None, "{}", "seeded", 0.6, 0.95, 8, 0, SEED_POLICY)
        gen = store.generation_id(key)
        store.add(gen, [NewSample("p" * 64, problem, 0, 1, text, 3, finish, False, extracted,
                                  reason, grading)])
        store.set_verdicts(gen, "p" * 64, [(0, True, extracted, reason, False, grading)])
        (index, stored), = store.texts(gen, "p" * 64, [0])
        assert index == 0 and stored == safe_text(text)
        assert store.stored(gen, "p" * 64)[0].reason == safe_text(reason)
    finally:
        store.close()


def test_grade_prints_a_lone_surrogate_message_as_valid_utf8(monkeypatch):
    """`capability-tests grade` on a program that raises ValueError("\\ud800"): a verdict line
    for it and for the lines after it (before: UnicodeEncodeError, no verdict for the rest)."""
    from capability_tests import cli

    rows = [{"benchmark": "humaneval", "problem_id": "HumanEval/53",
             "completion": "```python\ndef add(x, y):\n    raise ValueError('\\ud800')\n```"},
            {"benchmark": "humaneval", "problem_id": "HumanEval/53",
             "completion": "```python\ndef add(x, y):\n    return x + y\n```"},
            {"benchmark": "humaneval", "problem_id": "\ud800", "completion": "x"}]
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # strict, like a UTF-8 terminal or pipe
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in rows)))
    monkeypatch.setattr("sys.stdout", out)
    assert cli.main(["grade", "--workers", "1", "-"]) == 0
    out.flush()
    lines = [json.loads(line) for line in raw.getvalue().decode("utf-8").splitlines()]
    assert [line["correct"] for line in lines] == [False, True, False]
    assert "\\ud800" in lines[0]["reason"] and not lines[0]["grading_error"]
