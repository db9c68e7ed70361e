from __future__ import annotations

import pytest

from backend.domain.objects import uscc
from backend.domain.objects.services import check_uscc
from backend.errors import InvalidUSCC


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341L",  # stdnum's documented example
        "91350100M000100Y43",  # a real enterprise code
        "92360731MA3ABCD1X" + uscc.check_character("92360731MA3ABCD1X"),  # 个体工商户
        "Y1110000MA0000001"
        + uscc.check_character("Y1110000MA0000001"),  # letter authority, which stdnum refuses
        "N2360731MA0000002" + uscc.check_character("N2360731MA0000002"),
    ],
)
def test_valid_codes(code: str) -> None:
    assert uscc.problems(code) == []
    check_uscc(code)


def test_wrong_check_character_names_the_expected_one() -> None:
    found = uscc.problems("91110000600037341M")
    assert found == ["校验码错误：第18位应为“L”，实际为“M”"]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9111000060003734", "长度应为18位"),
        ("91110000600037341LL", "长度应为18位"),
        ("9111000060003734IL", "不允许的字符"),  # I is not in the alphabet
        ("9111000060003734lL", "不允许的字符"),  # lower case is judged as given
        ("000000000000000000", "登记管理部门代码“0”不存在"),  # passes the bare checksum
        ("9411000060003734" + "1L", "机构类别代码“4”不属于登记管理部门“9”"),
        ("91A1000060003734" + "1L", "行政区划码"),
    ],
)
def test_invalid_codes(code: str, fragment: str) -> None:
    found = uscc.problems(code)
    assert any(fragment in p for p in found), found
    with pytest.raises(InvalidUSCC):
        check_uscc(code)


def test_bare_checksum_of_all_zeros_is_right_but_code_refused() -> None:
    assert uscc.check_character("00000000000000000") == "0"
    assert not uscc.is_valid("000000000000000000")


def test_normalising_is_a_suggestion_not_applied() -> None:
    with pytest.raises(InvalidUSCC) as info:
        check_uscc(" ９１１１0000-600037341l ")
    assert info.value.extra["suggestion"] == "91110000600037341L"
    assert "是否应为 91110000600037341L" in info.value.detail
