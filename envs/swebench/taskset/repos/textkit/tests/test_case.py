import pytest

from textkit import split_words, to_camel, to_kebab, to_pascal, to_snake, to_title


@pytest.mark.parametrize(
    "text, expected",
    [
        ("parseHTTPResponse", ["parse", "HTTP", "Response"]),
        ("snake_case_name", ["snake", "case", "name"]),
        ("kebab-case-name", ["kebab", "case", "name"]),
        ("PascalCase", ["Pascal", "Case"]),
        ("version2Final", ["version", "2", "Final"]),
    ],
)
def test_split_words(text, expected):
    assert split_words(text) == expected


def test_to_snake_from_camel_with_acronym():
    assert to_snake("getHTTPServerURL") == "get_http_server_url"


def test_to_kebab_from_snake():
    assert to_kebab("user_account_id") == "user-account-id"


def test_to_pascal_from_words():
    assert to_pascal("hello big world") == "HelloBigWorld"


def test_to_camel_from_kebab():
    assert to_camel("background-color") == "backgroundColor"


def test_to_camel_empty():
    assert to_camel("") == ""


def test_to_title_keeps_small_words_lowercase():
    assert to_title("the lord of the rings") == "The Lord of the Rings"


def test_to_title_collapses_whitespace_and_fixes_shouting():
    assert to_title("  A TALE   OF two CITIES ") == "A Tale of Two Cities"


def test_to_title_capitalises_small_word_at_either_end():
    assert to_title("in the heat of the night") == "In the Heat of the Night"
    assert to_title("something to believe in") == "Something to Believe In"
