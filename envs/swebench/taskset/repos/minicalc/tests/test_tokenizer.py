import pytest

from minicalc import ParseError, Token, tokenize


def kinds_and_texts(source):
    return [(token.kind, token.text) for token in tokenize(source)]


def test_tokenize_expression():
    assert kinds_and_texts("x1 + 2*(y)") == [
        ("NAME", "x1"),
        ("OP", "+"),
        ("NUMBER", "2"),
        ("OP", "*"),
        ("OP", "("),
        ("NAME", "y"),
        ("OP", ")"),
        ("END", ""),
    ]


@pytest.mark.parametrize("text", ["42", "3.25", ".5", "7.", "1e3", "2.5E-2"])
def test_tokenize_number_forms(text):
    tokens = tokenize(text)
    assert [token.kind for token in tokens] == ["NUMBER", "END"]
    assert tokens[0].value == float(text)


def test_tokenize_records_positions():
    assert tokenize("  a +b") == [
        Token("NAME", "a", 2),
        Token("OP", "+", 4),
        Token("NAME", "b", 5),
        Token("END", "", 6),
    ]


def test_tokenize_rejects_stray_character():
    with pytest.raises(ParseError) as caught:
        tokenize("1 + $")
    assert caught.value.position == 4
