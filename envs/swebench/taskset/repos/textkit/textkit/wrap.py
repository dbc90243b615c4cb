"""Greedy line wrapping and truncation."""


def wrap(text: str, width: int) -> list[str]:
    """Wrap text into lines of at most width characters.

    Whitespace between words collapses to a single space. Words are never split, so a
    word longer than width gets a line of its own. Empty or blank text gives no lines.
    """
    if width < 1:
        raise ValueError("width must be at least 1")
    lines: list[str] = []
    current: list[str] = []
    length = 0
    for word in text.split():
        # Length of the current line if this word joins it, counting one joining space.
        needed = length + len(word) + (1 if current else 0)
        if current and needed > width:
            lines.append(" ".join(current))
            current, length = [word], len(word)
        else:
            current.append(word)
            length = needed
    if current:
        lines.append(" ".join(current))
    return lines


def fill(text: str, width: int, indent: str = "") -> str:
    """Wrap text and join the lines, each prefixed by indent, with newlines.

    The indent counts towards width.
    """
    if len(indent) >= width:
        raise ValueError("indent must be shorter than width")
    return "\n".join(indent + line for line in wrap(text, width - len(indent)))


def truncate(text: str, limit: int, ellipsis: str = "...") -> str:
    """Shorten text to at most limit characters, ending in ellipsis when anything was cut.

    The cut falls at the last space that leaves room for the ellipsis, or mid-word when
    the first word alone does not fit.
    """
    if limit < len(ellipsis):
        raise ValueError("limit must leave room for the ellipsis")
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    head = text[:room]
    space = head.rfind(" ")
    if space > 0 and text[room] != " ":
        head = head[:space]
    return head.rstrip() + ellipsis
