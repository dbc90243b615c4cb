"""URL slugs."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _ascii_fold(text: str) -> str:
    """Drop accents: 'Crème brûlée' -> 'Creme brulee'. Characters with no ASCII base are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slugify(text: str, separator: str = "-", max_length: int | None = None) -> str:
    """Turn arbitrary text into a lowercase ASCII slug.

    Runs of anything other than letters and digits become one separator, and the slug
    never starts or ends with a separator. With max_length the slug is cut at a word
    boundary when one exists, so a slug never ends in half a word unless its first word
    alone is longer than max_length.
    """
    if max_length is not None and max_length < 1:
        raise ValueError("max_length must be at least 1")
    folded = _ascii_fold(text).lower()
    slug = _NON_WORD.sub(separator, folded).strip(separator)
    if max_length is None or len(slug) <= max_length:
        return slug
    cut = slug[:max_length]
    if slug[max_length:].startswith(separator):
        return cut
    boundary = cut.rfind(separator)
    if boundary > 0:
        return cut[:boundary]
    return cut
