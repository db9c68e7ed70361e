"""统一社会信用代码 (GB 32100-2015) validation.

The string is judged exactly as given: normalising (trimming, upper-casing, folding
full-width characters) is a separate step, :func:`normalize`, whose result the caller shows
to the user rather than applying silently. The check character comes from
``python-stdnum`` (``stdnum.cn.uscc.calc_check_digit``); on top of it this module checks the
registration authority and category codes, which stdnum does not, and accepts the letter
authorities (A 军队, N 农业, Y 其他) that stdnum refuses.
"""

from __future__ import annotations

import unicodedata

from stdnum.cn import uscc as _stdnum_uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

AUTHORITY_CATEGORIES: dict[str, frozenset[str]] = {
    "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": frozenset("19"),  # 外交
    "3": frozenset("123459"),  # 司法行政
    "4": frozenset("19"),  # 文化
    "5": frozenset("1239"),  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": frozenset("129"),  # 旅游
    "7": frozenset("129"),  # 宗教
    "8": frozenset("19"),  # 工会
    "9": frozenset("123"),  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": frozenset("19"),  # 军队
    "N": frozenset("1239"),  # 农业
    "Y": frozenset("1"),  # 其他
}


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    return str(_stdnum_uscc.calc_check_digit(first17))


def problems(code: str) -> list[str]:
    """Everything wrong with ``code`` as given (empty when it is valid), in Chinese."""
    if len(code) != 18:
        return [f"长度应为18位，实际为{len(code)}位"]
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return [f"含有不允许的字符：{''.join(bad)}（只允许数字和除I、O、Z、S、V以外的大写字母）"]
    found: list[str] = []
    authority, category = code[0], code[1]
    if authority not in AUTHORITY_CATEGORIES:
        found.append(f"第1位登记管理部门代码“{authority}”不存在")
    elif category not in AUTHORITY_CATEGORIES[authority]:
        found.append(f"第2位机构类别代码“{category}”不属于登记管理部门“{authority}”")
    if not code[2:8].isdigit():
        found.append("第3–8位登记管理机关行政区划码应为6位数字")
    expected = check_character(code[:17])
    if code[17] != expected:
        found.append(f"校验码错误：第18位应为“{expected}”，实际为“{code[17]}”")
    return found


def is_valid(code: str) -> bool:
    return not problems(code)


def normalize(raw: str) -> str:
    """What the user probably meant: full-width folded, separators removed, upper case."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(c for c in folded if not c.isspace() and c != "-").upper()
