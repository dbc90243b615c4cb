import pytest

from textkit import WordStats, sentences, top_words, word_stats, words


def test_words_keeps_contractions_and_hyphenated():
    assert words("Don't stop the well-known band!") == ["don't", "stop", "the", "well-known", "band"]


def test_sentences_split_on_terminators():
    assert sentences("One. Two? Three! Four") == ["One.", "Two?", "Three!", "Four"]


def test_sentences_ignore_blank_text():
    assert sentences("   ") == []


def test_top_words_orders_by_frequency_then_first_use():
    text = "b a b c a d"
    assert top_words(text, 3) == [("b", 2), ("a", 2), ("c", 1)]


def test_top_words_skips_stopwords():
    assert top_words("the cat and the hat", 2, stopwords=frozenset({"the", "and"})) == [
        ("cat", 1),
        ("hat", 1),
    ]


def test_top_words_rejects_negative_count():
    with pytest.raises(ValueError):
        top_words("x", -1)


def test_word_stats_counts():
    stats = word_stats("The cat sat. The cat ran!")
    assert stats == WordStats(
        words=6, unique_words=4, sentences=2, average_word_length=3.0, reading_minutes=1
    )


def test_word_stats_empty_text():
    assert word_stats("") == WordStats(0, 0, 0, 0.0, 0)


def test_reading_minutes_round_up():
    assert word_stats(" ".join(["word"] * 401)).reading_minutes == 3
