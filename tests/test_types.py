"""The list validators of types.py: what a kind's field gets from `each` and `sorted_set_of`."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from converge.types import each, sorted_set_of


def _lower_word(value: str) -> str:
    if not value.isalpha():
        raise ValueError(f"{value!r} is not a word")
    return value.lower()


class Words(BaseModel):
    checked: Annotated[list[str], each(_lower_word)] | None = None
    normal: Annotated[list[str], sorted_set_of(_lower_word)] | None = None


def test_each_keeps_order_and_repeats_in_normal_form() -> None:
    assert Words(checked=["b", "A", "b"]).checked == ["b", "a", "b"]


def test_sorted_set_of_sorts_and_merges_spellings_of_one_item() -> None:
    assert Words(normal=["b", "A", "a", "B"]).normal == ["a", "b"]


@pytest.mark.parametrize("field", ["checked", "normal"])
def test_unset_stays_unset(field: str) -> None:
    assert getattr(Words(**{field: None}), field) is None


@pytest.mark.parametrize("field", ["checked", "normal"])
def test_an_item_error_is_the_fields_own(field: str) -> None:
    # as a field_validator's: the location names the field, not the item (manifest errors quote it)
    with pytest.raises(ValidationError) as e:
        Words(**{field: ["ok", "n0t"]})
    [error] = e.value.errors()
    assert error["loc"] == (field,)
    assert error["msg"] == "Value error, 'n0t' is not a word"
