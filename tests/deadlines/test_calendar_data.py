"""The shipped official schedules agree with two independent sources; a bad file names its line."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest

from backend.domain.deadlines.calendar_file import CalendarFileError, parse
from backend.domain.deadlines.calendars import SHIPPED_YEARS, shipped_schedule
from backend.domain.deadlines.workdays import WorkCalendar, describe


@pytest.mark.parametrize("year", list(SHIPPED_YEARS))
def test_shipped_year_agrees_with_holidays_and_chinese_calendar(year: int) -> None:
    schedule = shipped_schedule(year)
    assert schedule.year == year and "国办发明电" in schedule.source
    calendar = WorkCalendar(loaded_years=frozenset({year}), special_days=schedule.days)
    official = holidays.country_holidays("CN", years=year)
    day = date(year, 1, 1)
    while day.year == year:
        ours = describe(calendar, day).working
        assert ours == official.is_working_day(day), f"{day}: holidays disagrees"
        assert ours == chinese_calendar.is_workday(day), f"{day}: chinese_calendar disagrees"
        day += timedelta(days=1)


def test_the_file_round_trips() -> None:
    schedule = shipped_schedule(2026)
    assert parse(schedule.to_text()) == schedule


GOOD = """year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知（测试）
holiday 2027-01-01 元旦
holiday 2027-02-06 2027-02-12 春节   # 七天
workday 2027-02-13 春节调休上班
"""


def test_a_good_file() -> None:
    schedule = parse(GOOD)
    assert schedule.year == 2027 and len(schedule.days) == 9
    assert schedule.days[date(2027, 2, 13)].kind.value == "makeup_workday"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("year: 2027", "year: 27"), 1, "四位年份"),
        (
            GOOD.replace("source: 国务院办公厅关于2027年部分节假日安排的通知（测试）", "source:"),
            2,
            "不能为空",
        ),
        ("holiday 2027-01-01 元旦\n", 1, "先写 year:"),
        (GOOD + "holiday 2027-13-01 假日\n", 6, "不是 YYYY-MM-DD"),
        (GOOD + "holiday 2027-05-05 2027-05-01 劳动节\n", 6, "结束日期早于开始日期"),
        (GOOD + "workday 2027-05-06 劳动节调休上班\n", 6, "调休上班日应在周末"),
        (GOOD + "holiday 2028-01-01 元旦\n", 6, "不在 2027 年内"),
        (GOOD + "holiday 2027-02-08 春节\n", 6, "已在前面列出"),
        (GOOD + "vacation 2027-05-01 劳动节\n", 6, "不认识的指令"),
        (GOOD + "holiday 2027-05-01\n", 6, "holiday 行应为"),
        (GOOD + "holiday 2027-05-01 2027-05-03\n", 6, "缺少名称"),
        (GOOD + "year: 2027\n", 6, "只能出现一次"),
        ("year: 2027\nsource: x\nworkday 2027-02-13 调休\n", 3, "没有任何 holiday 行"),
    ],
)
def test_a_bad_file_names_the_wrong_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(CalendarFileError) as info:
        parse(text)
    assert info.value.line == line, str(info.value)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"第{line}行")
