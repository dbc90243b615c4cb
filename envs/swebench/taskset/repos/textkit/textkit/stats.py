"""Word and sentence statistics."""

import re
from collections import Counter
from dataclasses import dataclass

# Words are letters and digits, with inner apostrophes or hyphens kept ("don't", "well-known").
_WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")
# A sentence ends at ., ! or ? (possibly repeated) followed by whitespace or the end of text.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

WORDS_PER_MINUTE = 200


@dataclass(frozen=True)
class WordStats:
    words: int
    unique_words: int
    sentences: int
    average_word_length: float
    reading_minutes: int


def words(text: str) -> list[str]:
    """The words of text, lowercased, in order."""
    return [match.group(0).lower() for match in _WORD.finditer(text)]


def sentences(text: str) -> list[str]:
    """Split text into sentences, stripped; blank pieces are dropped."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]


def top_words(text: str, count: int, stopwords: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """The count most frequent words, most frequent first; ties in order of first use."""
    if count < 0:
        raise ValueError("count must not be negative")
    counter = Counter(word for word in words(text) if word not in stopwords)
    # Counter.most_common keeps insertion order among equal counts.
    return counter.most_common(count)


def word_stats(text: str) -> WordStats:
    """Counts for text; reading time rounds up to whole minutes and is 0 only for no words."""
    found = words(text)
    total = len(found)
    average = sum(len(word) for word in found) / total if total else 0.0
    minutes = -(-total // WORDS_PER_MINUTE)
    return WordStats(
        words=total,
        unique_words=len(set(found)),
        sentences=len(sentences(text)),
        average_word_length=round(average, 2),
        reading_minutes=minutes,
    )
