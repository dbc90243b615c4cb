"""Conversion between identifier cases: snake_case, kebab-case, camelCase, PascalCase."""

import re

# A word is a run of capitals not followed by a lowercase letter (an acronym such as
# "HTTP" in "HTTPServer"), a capitalised or lowercase word, or a run of digits.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# Words that stay lowercase inside a title unless they come first or last.
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "vs"}
)


def split_words(text: str) -> list[str]:
    """Split an identifier or phrase in any case style into its words, keeping their case.

    >>> split_words("parseHTTPResponse_v2")
    ['parse', 'HTTP', 'Response', 'v', '2']
    """
    return _WORD.findall(text)


def to_snake(text: str) -> str:
    return "_".join(word.lower() for word in split_words(text))


def to_kebab(text: str) -> str:
    return "-".join(word.lower() for word in split_words(text))


def to_pascal(text: str) -> str:
    return "".join(word.capitalize() for word in split_words(text))


def to_camel(text: str) -> str:
    words = split_words(text)
    if not words:
        return ""
    return words[0].lower() + "".join(word.capitalize() for word in words[1:])


def to_title(text: str) -> str:
    """Title-case a phrase, keeping short connecting words lowercase except at either end.

    Words are separated by whitespace here; punctuation stays attached to its word.
    """
    words = text.split()
    titled = []
    for index, word in enumerate(words):
        lowered = word.lower()
        is_edge = index == 0 or index == len(words) - 1
        if lowered in _SMALL_WORDS and not is_edge:
            titled.append(lowered)
        else:
            titled.append(lowered[:1].upper() + lowered[1:])
    return " ".join(titled)
