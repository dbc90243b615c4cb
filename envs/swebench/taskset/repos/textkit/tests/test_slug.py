import pytest

from textkit import slugify


def test_slugify_lowercases_and_joins_words():
    assert slugify("Hello World") == "hello-world"


def test_slugify_collapses_punctuation_runs():
    assert slugify("Rock & Roll -- Live!!") == "rock-roll-live"


def test_slugify_strips_leading_and_trailing_separators():
    assert slugify("  --Already slugged--  ") == "already-slugged"


def test_slugify_folds_accents():
    assert slugify("Crème Brûlée à la carte") == "creme-brulee-a-la-carte"


def test_slugify_custom_separator():
    assert slugify("Snake Case Please", separator="_") == "snake_case_please"


def test_slugify_empty_text():
    assert slugify("!!!") == ""


def test_slugify_max_length_cuts_at_word_boundary():
    assert slugify("the quick brown fox", max_length=12) == "the-quick"


def test_slugify_max_length_keeps_long_single_word():
    assert slugify("supercalifragilistic", max_length=5) == "super"


def test_slugify_rejects_non_positive_max_length():
    with pytest.raises(ValueError):
        slugify("anything", max_length=0)
