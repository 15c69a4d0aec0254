"""The list validators of types.py: what a kind's field gets from `each` and `sorted_set_of`."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from converge.types import all_match, each, matches, sorted_set_of

LETTERS = re.compile(r"[a-z]+")


def _lower_word(value: str) -> str:
    if not value.isalpha():
        raise ValueError(f"{value!r} is not a word")
    return value.lower()


class Words(BaseModel):
    checked: Annotated[list[str], each(_lower_word)] | None = None
    normal: Annotated[list[str], sorted_set_of(_lower_word)] | None = None
    matched: Annotated[list[str], all_match(LETTERS, "a word")] | None = None
    one: Annotated[str, matches(LETTERS, "a word")] | None = None


def test_each_keeps_order_and_repeats_in_normal_form() -> None:
    assert Words(checked=["b", "A", "b"]).checked == ["b", "a", "b"]


def test_sorted_set_of_sorts_and_merges_spellings_of_one_item() -> None:
    assert Words(normal=["b", "A", "a", "B"]).normal == ["a", "b"]


def test_matching_values_stay_as_given() -> None:
    words = Words(matched=["b", "a", "b"], one="abc")
    assert (words.matched, words.one) == (["b", "a", "b"], "abc")


@pytest.mark.parametrize("field", ["checked", "normal", "matched", "one"])
def test_unset_stays_unset(field: str) -> None:
    assert getattr(Words(**{field: None}), field) is None


@pytest.mark.parametrize("field", ["checked", "normal", "matched", "one"])
def test_an_item_error_is_the_fields_own(field: str) -> None:
    # as a field_validator's: the location names the field, not the item (manifest errors quote it)
    with pytest.raises(ValidationError) as e:
        Words(**{field: "n0t" if field == "one" else ["ok", "n0t"]})
    [error] = e.value.errors()
    assert error["loc"] == (field,)
    assert error["msg"] == "Value error, 'n0t' is not a word"
