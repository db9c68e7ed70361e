"""The calendar file: one year's official holiday schedule (放假安排), as operators load it.

Format (UTF-8 text, one directive per line, ``#`` starts a comment)::

    year: 2026
    source: 国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）
    holiday 2026-01-01 2026-01-03 元旦
    workday 2026-01-04 元旦调休上班
    holiday 2026-04-04 2026-04-06 清明节
    holiday 2026-06-19 端午节

* ``year:`` and ``source:`` come first, once each.
* ``holiday FIRST [LAST] NAME`` — days off from FIRST to LAST (inclusive; LAST defaults to
  FIRST), weekends inside the break included.
* ``workday DATE NAME`` — a make-up working day (调休上班); it must fall on a weekend.
* Every date lies in the year; no date is listed twice.

A file with any wrong line is refused as a whole, naming the line; nothing is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .workdays import DayKind, SpecialDay


class CalendarFileError(ValueError):
    def __init__(self, line: int, problem: str, text: str = "") -> None:
        super().__init__(
            f"第{line}行：{problem}" + (f"（{text.strip()[:60]}）" if text.strip() else "")
        )
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class YearSchedule:
    year: int
    source: str
    days: dict[date, SpecialDay]

    def to_text(self) -> str:
        """The same schedule written back in the file format (ranges of consecutive holidays joined)."""
        lines = [f"year: {self.year}", f"source: {self.source}"]
        run: list[date] = []

        def flush() -> None:
            if run:
                name = self.days[run[0]].name
                span = (
                    f"{run[0].isoformat()}"
                    if len(run) == 1
                    else f"{run[0].isoformat()} {run[-1].isoformat()}"
                )
                lines.append(f"holiday {span} {name}")
                run.clear()

        for day in sorted(self.days):
            special = self.days[day]
            if special.kind is DayKind.HOLIDAY:
                if run and (
                    day - run[-1] != timedelta(days=1) or self.days[run[0]].name != special.name
                ):
                    flush()
                run.append(day)
            else:
                flush()
                lines.append(f"workday {day.isoformat()} {special.name}")
        flush()
        return "\n".join(lines) + "\n"


_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def _date(token: str, line: int, raw: str) -> date:
    try:
        return date.fromisoformat(token)
    except ValueError as exc:
        raise CalendarFileError(line, f"“{token}”不是 YYYY-MM-DD 格式的日期", raw) from exc


def parse(text: str) -> YearSchedule:
    """Parse and check a whole file; raise ``CalendarFileError`` naming the first wrong line."""
    year: int | None = None
    source: str | None = None
    days: dict[date, SpecialDay] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("year:"):
            if year is not None:
                raise CalendarFileError(number, "year: 只能出现一次", raw)
            value = line.removeprefix("year:").strip()
            if not (value.isdigit() and len(value) == 4 and 2000 <= int(value) <= 2100):
                raise CalendarFileError(number, "year: 后应为 2000–2100 之间的四位年份", raw)
            year = int(value)
            continue
        if line.startswith("source:"):
            if source is not None:
                raise CalendarFileError(number, "source: 只能出现一次", raw)
            source = line.removeprefix("source:").strip()
            if not source:
                raise CalendarFileError(number, "source: 不能为空，请写明通知的名称和文号", raw)
            continue
        if year is None or source is None:
            raise CalendarFileError(number, "文件应先写 year: 和 source: 两行", raw)
        keyword, _, rest = line.partition(" ")
        tokens = rest.split()
        if keyword == "holiday":
            if len(tokens) < 2:
                raise CalendarFileError(
                    number, "holiday 行应为：holiday 开始日期 [结束日期] 名称", raw
                )
            first = _date(tokens[0], number, raw)
            last = first
            name_tokens = tokens[1:]
            if _DATE_LIKE.fullmatch(tokens[1]):
                last = _date(tokens[1], number, raw)
                name_tokens = tokens[2:]
            if last < first:
                raise CalendarFileError(number, "结束日期早于开始日期", raw)
            if (last - first).days > 30:
                raise CalendarFileError(number, "一段假期不应超过31天", raw)
            span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            kind = DayKind.HOLIDAY
        elif keyword == "workday":
            if len(tokens) < 2:
                raise CalendarFileError(number, "workday 行应为：workday 日期 名称", raw)
            first = _date(tokens[0], number, raw)
            if first.weekday() < 5:
                raise CalendarFileError(
                    number,
                    f"{first.isoformat()} 是工作日（星期{'一二三四五'[first.weekday()]}），调休上班日应在周末",
                    raw,
                )
            span = [first]
            name_tokens = tokens[1:]
            kind = DayKind.MAKEUP_WORKDAY
        else:
            raise CalendarFileError(
                number, f"不认识的指令“{keyword}”（应为 year:、source:、holiday 或 workday）", raw
            )
        name = " ".join(name_tokens)
        if not name:
            raise CalendarFileError(number, "缺少名称（例如：春节）", raw)
        for day in span:
            if day.year != year:
                raise CalendarFileError(number, f"{day.isoformat()} 不在 {year} 年内", raw)
            if day in days:
                raise CalendarFileError(number, f"{day.isoformat()} 已在前面列出", raw)
            days[day] = SpecialDay(kind, name)
    if year is None or source is None:
        raise CalendarFileError(max(1, len(text.splitlines())), "缺少 year: 或 source: 行")
    if not any(s.kind is DayKind.HOLIDAY for s in days.values()):
        raise CalendarFileError(
            max(1, len(text.splitlines())), "没有任何 holiday 行：一年总有法定节假日"
        )
    return YearSchedule(year=year, source=source, days=days)
