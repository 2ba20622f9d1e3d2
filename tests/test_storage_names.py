"""safe_file_name and check_file_name: no name can steer where an object lands (seed 002 path layout)."""

from __future__ import annotations

import unicodedata
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.storage import StorageRefusal, chat_file_key, check_file_name, safe_file_name
from parley.storage.names import MAX_FILE_NAME_LENGTH

hostile_alphabet = st.sampled_from(
    [
        "/",
        "\\",
        ".",
        "..",
        "../",
        "..\\",
        "\x00",
        "\n",
        "\x1b",
        " ",
        "-",
        "_",
        "é",
        "ß",
        "日",
        "\u202e",
        "\u200b",
        "%2e",
        ":",
        "*",
        "?",
        "<",
        ">",
        "|",
        "a",
        "B",
        "7",
    ]
)
hostile_names = st.lists(hostile_alphabet, max_size=60).map("".join) | st.text(max_size=300)


@settings(max_examples=400)
@given(hostile_names, st.integers(min_value=8, max_value=200))
def test_safe_file_name_is_always_one_clean_bounded_segment(name, cap):
    result = safe_file_name(name, max_length=cap)
    assert result, "never empty"
    assert len(result) <= cap
    assert "/" not in result and "\\" not in result
    assert ".." not in result.split("/") and ".." not in result
    assert not result.startswith(".")
    assert not any(unicodedata.category(character).startswith("C") for character in result)
    assert all(character.isascii() and (character.isalnum() or character in "._-") for character in result)


@given(hostile_names)
def test_safe_file_name_is_idempotent(name):
    once = safe_file_name(name)
    assert safe_file_name(once) == once


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/absolute/report.pdf", "report.pdf"),
        (".htaccess", "htaccess"),
        ("résumé final (2).pdf", "resume_final_2.pdf"),
        ("a\x00b\x1f.png", "ab.png"),
        ("...", "file"),
        ("", "file"),
        ("日本語.txt", "file.txt"),
        ("voice   note!!.ogg", "voice_note.ogg"),
        ("Cafe\u0301.jpg", "Cafe.jpg"),
    ],
)
def test_safe_file_name_examples(name, expected):
    assert safe_file_name(name) == expected


def test_long_names_keep_their_extension():
    result = safe_file_name("x" * 500 + ".docx")
    assert len(result) == MAX_FILE_NAME_LENGTH and result.endswith(".docx")


@pytest.mark.parametrize(
    "name", ["../secret.png", "a/b.png", "..\\x.png", "..", ".", "", "   ", "a\x00.png", "a\nb.txt", "x" * 2000]
)
def test_check_file_name_refuses_paths_and_control_characters(name):
    with pytest.raises(StorageRefusal) as refused:
        check_file_name(name)
    assert (refused.value.status, refused.value.reason) == (400, "bad_file_name")


def test_chat_file_key_puts_conversation_then_uploader_first():
    conversation, user, object_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = chat_file_key(conversation, user, "Holiday photo.JPG", object_id=object_id)
    assert key == f"{conversation}/{user}/{object_id}-Holiday_photo.JPG"


@pytest.mark.parametrize("name", ["é. é. ", "é. . ", "a._b._c._", "x.-y.-z"])
def test_safe_file_name_reaches_a_fixed_point_on_names_whose_extension_changes_when_sanitized(name: str):
    """Regression: hypothesis found names where one pass exposed a new extension (``e._e`` -> ``e.e``)."""
    once = safe_file_name(name)
    assert safe_file_name(once) == once
