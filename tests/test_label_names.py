"""The look-alike hint names characters in words, because the page's font draws I and l alike."""

import pytest

from handwriting.tasks import LOOKALIKES, labels_for, unambiguous_name


def test_names_say_capital_lowercase_or_digit():
    assert unambiguous_name("I") == "capital I"
    assert unambiguous_name("l") == "lowercase l"
    assert unambiguous_name("1") == "digit 1"
    assert [unambiguous_name(c) for c in ("O", "o", "0")] == ["capital O", "lowercase o", "digit 0"]


def test_every_label_gets_a_distinct_name_and_every_lookalike_group_reads_apart():
    names = [unambiguous_name(c) for c in labels_for("all")]
    assert len(set(names)) == 62
    for group in LOOKALIKES:
        assert len({unambiguous_name(c).lower() for c in group}) == len(group)  # distinct even case-folded


def test_more_than_one_character_is_refused():
    with pytest.raises(ValueError):
        unambiguous_name("Il")
