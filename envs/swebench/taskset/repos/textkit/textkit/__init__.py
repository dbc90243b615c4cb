"""Small text utilities: slugs, case conversion, wrapping and word statistics."""

from textkit.case import split_words, to_camel, to_kebab, to_pascal, to_snake, to_title
from textkit.slug import slugify
from textkit.stats import WordStats, sentences, top_words, word_stats, words
from textkit.wrap import fill, truncate, wrap

__all__ = [
    "WordStats",
    "fill",
    "sentences",
    "slugify",
    "split_words",
    "to_camel",
    "to_kebab",
    "to_pascal",
    "to_snake",
    "to_title",
    "top_words",
    "truncate",
    "word_stats",
    "words",
    "wrap",
]

__version__ = "1.0.0"
