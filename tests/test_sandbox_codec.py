"""The codec between tester and candidate: plain values cross unchanged, nothing else crosses."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capability_tests.code.extract import extract_program
from capability_tests.sandbox.codec import CodecError, decode, encode

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() \
    | st.binary() | st.complex_numbers(allow_nan=False)
hashables = st.recursive(scalars.filter(lambda v: not isinstance(v, float) or v == v),
                         lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
                         max_leaves=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(hashables, inner, max_size=3) | st.sets(hashables, max_size=3)
    | st.frozensets(hashables, max_size=3),
    max_leaves=20)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@given(values)
def test_plain_values_cross_unchanged_with_their_types(value):
    assert same(decode(json.loads(json.dumps(encode(value)))), value)


@pytest.mark.parametrize("special", [float("inf"), float("-inf"), 2**80, -(2**70)])
def test_special_numbers_cross(special):
    assert decode(json.loads(json.dumps(encode(special)))) == special


def test_objects_and_subclasses_do_not_cross_as_themselves():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class Sly(int):
        def __eq__(self, other):
            return True

    with pytest.raises(CodecError):
        encode(AlwaysEqual())
    with pytest.raises(CodecError):
        encode([1, (2, object())])
    crossed = decode(json.loads(json.dumps(encode(Sly(3)))))
    assert type(crossed) is int and crossed != 4


@pytest.mark.parametrize("message", [{"x": 1}, {"s": 3}, {"t": "no"}, {"f": "1.0"}, "str", {}])
def test_foreign_messages_are_refused(message):
    with pytest.raises(CodecError):
        decode(message)


@given(st.text(max_size=300))
def test_extraction_of_any_text_is_total(text):
    program = extract_program(text, "def f(x):\n", "f")
    if program is not None:
        assert program.code in program.source and program.code.strip()
