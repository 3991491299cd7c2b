"""The shared "did you mean" helper."""

from hypothesis import given
from hypothesis import strategies as st

from shipctl.suggest import nearest


def test_nearest_ignores_case_and_finds_typos():
    assert nearest("EWE.URL", ["ewe.url", "ewe.rate"]) == "ewe.url"
    assert nearest("ewe.pasword", ["ewe.password", "ewe.postcodes"]) == "ewe.password"
    assert nearest("colour", ["email", "phone"]) is None


def test_nearest_with_a_normaliser():
    squash = lambda s: s.casefold().replace("_", "")  # noqa: E731
    assert nearest("goods_name", ["goodsName", "goodsNameCn"], normalise=squash) == "goodsName"


@given(st.text(), st.lists(st.text()))
def test_nearest_returns_one_of_the_choices_or_none(word, choices):
    found = nearest(word, choices)
    assert found is None or found in choices
