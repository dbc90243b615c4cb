import pytest

from textkit import fill, truncate, wrap


def test_wrap_breaks_between_words():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_wrap_line_of_exactly_width():
    assert wrap("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]


def test_wrap_long_word_gets_own_line():
    assert wrap("a extraordinarily b", 5) == ["a", "extraordinarily", "b"]


def test_wrap_collapses_whitespace():
    assert wrap("  one \n\t two  ", 20) == ["one two"]


def test_wrap_blank_text_has_no_lines():
    assert wrap("   ", 10) == []


def test_wrap_rejects_zero_width():
    with pytest.raises(ValueError):
        wrap("text", 0)


def test_fill_indents_every_line_within_width():
    assert fill("one two three four", 10, indent="> ") == "> one two\n> three\n> four"


def test_truncate_short_text_unchanged():
    assert truncate("short", 10) == "short"


def test_truncate_cuts_at_word_boundary():
    assert truncate("the quick brown fox", 14) == "the quick..."


def test_truncate_mid_word_when_first_word_too_long():
    assert truncate("incomprehensibilities", 10) == "incompr..."
