"""`Outcome`, the enum of what became of a sample, and the typed records that carry samples
between modules: every outcome has its letter and meaning, the enum reads and writes as its
stored string, and records keep their field names and tuple order."""

from __future__ import annotations

import itertools
import json
import pickle

import execnet
import pytest

from capability_tests.grading.verdict import OUTCOMES, Outcome, Verdict, outcome_of
from capability_tests.problems import Problem
from capability_tests.results import (
    LETTER_OUTCOMES,
    OUTCOME_LETTERS,
    SAMPLES_PROPERTY,
    SampleRow,
    decode_samples,
    encode_samples,
)

# the stored format: samples.jsonl, summary.json and SQLite hold these strings and letters
STORED = {"correct": "C", "wrong": "W", "no_answer": "N", "timeout": "T", "grader_error": "G",
          "error": "E"}


def P() -> Problem:
    return Problem(benchmark="math500", problem_id="t", question="q", answer="1", source="t")


def test_every_outcome_has_its_stored_value_letter_and_meaning():
    assert {o.value: OUTCOME_LETTERS[o] for o in Outcome} == STORED
    assert set(OUTCOMES) == set(Outcome) and all(OUTCOMES[o].strip() for o in Outcome)
    assert all(type(k) is Outcome for k in itertools.chain(OUTCOMES, OUTCOME_LETTERS))


def test_letters_and_outcomes_round_trip():
    assert len(set(OUTCOME_LETTERS.values())) == len(Outcome)
    for outcome in Outcome:
        assert LETTER_OUTCOMES[OUTCOME_LETTERS[outcome]] is outcome
    for letter, outcome in LETTER_OUTCOMES.items():
        assert OUTCOME_LETTERS[outcome] == letter and len(letter) == 1


def _expected(correct, extracted, timed_out, error, grader_error) -> str:
    """The rule docs/GRADING.md states, written out independently of outcome_of."""
    if error or correct is None:
        return "error"
    if grader_error:
        return "grader_error"
    if timed_out:
        return "timeout"
    if correct:
        return "correct"
    return "no_answer" if extracted is None else "wrong"


@pytest.mark.parametrize("correct, extracted, timed_out, error, grader_error", list(
    itertools.product([True, False], [None, "7"], [False, True], [False, True], [False, True])))
def test_a_verdicts_outcome_for_every_combination_of_flags(correct, extracted, timed_out, error,
                                                          grader_error):
    verdict = Verdict(correct, extracted, "why", 0.0, timed_out=timed_out, error=error,
                      grader_error=grader_error)
    expected = _expected(correct, extracted, timed_out, error, grader_error)
    assert verdict.outcome is Outcome(expected) and type(verdict.outcome) is Outcome
    assert verdict.outcome == expected  # equal to the string every stored record holds


def test_an_ungraded_stored_row_is_an_error():
    assert outcome_of(None, "7", False, False) is Outcome.ERROR


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_outcome_survives_json_pickle_and_formatting_as_its_value(outcome):
    text = json.dumps({"outcome": outcome, "list": [outcome]})
    assert text == json.dumps({"outcome": outcome.value, "list": [outcome.value]})
    back = json.loads(text)["outcome"]
    assert type(back) is str and back == outcome and Outcome(back) is outcome
    assert pickle.loads(pickle.dumps(outcome)) is outcome  # verdicts cross grading workers
    assert f"{outcome}" == str(outcome) == outcome.value
    assert {outcome.value: 1}[outcome] == 1 and {outcome: 1}[outcome.value] == 1


def test_per_sample_records_decode_to_outcomes_and_reject_an_unknown_one():
    rows = [SampleRow(0, "7", Outcome.CORRECT, "equal"), SampleRow(1, None, "no_answer", "none")]
    _, records = decode_samples(encode_samples({"benchmark": "b", "problem_id": "p"}, rows))
    back = list(records)
    assert [r["outcome"] for r in back] == [Outcome.CORRECT, Outcome.NO_ANSWER]
    assert all(type(r["outcome"]) is Outcome for r in back)
    assert [r["correct"] for r in back] == [True, False]
    with pytest.raises(ValueError, match=r"b/p: outcome 'right' is not one of correct, wrong"):
        encode_samples({"benchmark": "b", "problem_id": "p"}, [(0, "7", "right", "equal")])


def test_what_a_test_records_crosses_execnet_and_a_bare_outcome_would_not():
    """xdist sends `user_properties` through execnet, which refuses a str subclass: the tally's
    records and result must hold plain strings only."""
    from capability_tests.sampling.outcome import ProblemTally

    tally = ProblemTally(P(), 2, "digest", "grading", "grader")
    tally.add(0, Verdict(True, "1", "equal", 0.0), 5, "stop")
    tally.add(1, Verdict(False, None, "no final answer", 0.0), 7, "length")
    done = tally.outcome()
    properties = done.result.properties() + [(SAMPLES_PROPERTY, done.records)]
    assert execnet.loads(execnet.dumps(properties)) == properties
    with pytest.raises(execnet.DumpError):
        execnet.dumps([("outcome", Outcome.CORRECT)])


def test_a_tally_keeps_named_samples_and_counts_them_by_outcome():
    from capability_tests.sampling.outcome import ProblemTally, TalliedSample

    tally = ProblemTally(P(), 3, "digest", "grading", "grader")
    tally.add(2, Verdict(False, None, "grading failed", 0.0, error=True), 1, "stop")
    tally.add(0, Verdict(False, "2", "not equal", 0.0, timed_out=True), 3, "stop")
    tally.add(1, Verdict(False, "3", "TypeError: x", 0.0, grader_error=True), 5, "length")
    tally.add(3, Verdict(True, "1", "equal", 0.0), 9, "stop")  # beyond k: not kept
    sample = tally.samples[1]
    assert isinstance(sample, TalliedSample) and sample == (Outcome.GRADER_ERROR, "3", "TypeError: x",
                                                            5, "length")
    assert (sample.outcome, sample.tokens, sample.finish_reason) == ("grader_error", 5, "length")
    result = tally.result()
    assert (result.n, result.correct, result.grading_timeouts, result.grader_errors,
            result.grading_errors) == (3, 0, 1, 1, 1)
    assert result.finish_reasons == {"stop": 2, "length": 1} and result.mean_tokens == 3.0
    assert "1 of 3 samples could not be graded (grading failed)" in result.error
    _, records = decode_samples(tally.records())
    assert [(r["index"], r["outcome"]) for r in records] == [
        (0, Outcome.TIMEOUT), (1, Outcome.GRADER_ERROR), (2, Outcome.ERROR)]


def test_known_answer_cases_take_an_outcome_or_its_string_and_refuse_a_misspelt_one():
    from capability_tests.selftest import KnownAnswer
    from capability_tests.selftest.cases import math_cases

    case = KnownAnswer("units", "right", "math", P(), "The answer is 1.", "correct")
    assert case.expect is Outcome.CORRECT
    with pytest.raises(ValueError, match=r"case 'typo' of verifier 'units': expected outcome "
                                         r"'corect' is not one of correct"):
        KnownAnswer("units", "typo", "math", P(), "The answer is 1.", "corect")
    assert all(type(c.expect) is Outcome for c in math_cases([]))


def test_the_public_surface_exports_outcome():
    import capability_tests

    assert capability_tests.Outcome is Outcome and "Outcome" in capability_tests.__all__
    from capability_tests.grading import Outcome as from_grading

    assert from_grading is Outcome


def test_store_records_name_their_fields(tmp_path):
    from capability_tests.store import (
        CompletionStore,
        GenerationKey,
        NewSample,
        Score,
        ScoreRow,
        StampedText,
        VerdictUpdate,
        verdict_flags,
    )

    store = CompletionStore(tmp_path / "s.sqlite")
    try:
        gen = store.generation_id(GenerationKey("m", "e", None, "{}", "seeded", 0.6, 0.95, 16, 0, "p"))
        store.add(gen, [NewSample("p", "x/y", i, i, f"text {i}", 4, "stop") for i in range(2)])
        stamped = list(store.stamped_texts(gen, "p", [1, 0]))
        assert all(isinstance(s, StampedText) for s in stamped)
        assert [(s.index, s.text) for s in stamped] == [(1, "text 1"), (0, "text 0")]
        store.set_verdicts(gen, "p", [
            VerdictUpdate(0, False, "3", "TypeError: x", verdict_flags(False, True), "g",
                          stamped[1].created),
            VerdictUpdate(1, None, None, "grading failed", 0, "g"),  # no version: written anyway
        ])
        rows = store.stored(gen, "p")
        assert rows[0].grader_error and rows[0].correct is False and rows[0].extracted == "3"
        assert rows[1].correct is None and rows[1].reason == "grading failed"
        assert outcome_of(rows[0].correct, rows[0].extracted, rows[0].timed_out, False,
                          rows[0].grader_error) is Outcome.GRADER_ERROR
        scorer = store.scorer_id('{"model": "s"}')
        store.add_scores(scorer, gen, "p", [ScoreRow(0, stamped[1].created, 4, -2.5)])
        score = store.scores(scorer, gen, "p")[0]
        assert isinstance(score, Score) and (score.tokens, score.logprob_sum) == (4, -2.5)
    finally:
        store.close()


def test_benchmark_curves_and_pairs_keep_named_counts():
    from capability_tests.reporting.compare import Paired
    from capability_tests.reporting.curves import ProblemCounts, compute_curve
    from capability_tests.results import ProblemResult

    a = [ProblemResult("b", "1", 4, 1), ProblemResult("b", "2", 4, 4)]
    b = [ProblemResult("b", "1", 8, 2), ProblemResult("b", "3", 8, 8)]
    curve = compute_curve("b", a)
    assert curve.counts == [ProblemCounts(4, 1), ProblemCounts(4, 4)]
    assert [c.correct for c in curve.counts] == [1, 4]
    paired = Paired.of(a, b)
    assert paired.ids == ["1"] and paired.a == [ProblemCounts(n=4, correct=1)]
    assert paired.b[0].n == 8 and paired.k_max == 4
