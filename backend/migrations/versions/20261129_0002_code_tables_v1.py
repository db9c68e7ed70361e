"""Code tables, version 1, with the official wording (DOMAIN.md).

The data is written out here rather than imported, so this migration always inserts what
it inserted the first time. Later wording changes are new versions in new migrations or by
an operator, never edits of version 1.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNREACHABLE = ["6", "7", "8", "9", "10", "11", "12"]


def _result(code: str, text: str, **kw: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "code": code,
        "text": text,
        "variants": [],
        "exclusive": False,
        "excludes": [],
        "sub_reasons": [],
        "business_signature": code not in UNREACHABLE,
        "active": True,
    }
    entry.update(kw)
    return entry


RESULT_CATEGORIES = [
    _result("1", "未发现问题", variants=["正常（符合信息公示相关规定）"], exclusive=True),
    _result(
        "A",
        "发现问题待后续处理",
        sub_reasons=[
            "违反食品药品管理相关规定",
            "违反质量技术监督相关规定",
            "违反其他部门相关规定",
            "违反公安部门相关规定",
            "违反其他市场监管规定",
        ],
        excludes=["1", *UNREACHABLE],
    ),
    _result(
        "B",
        "未按规定公示应当公示的信息",
        sub_reasons=["未按规定公示年报信息", "未按规定公示即时信息"],
        excludes=["1"],
    ),
    _result(
        "C",
        "公示信息隐瞒真实情况、弄虚作假",
        variants=["公示信息隐瞒真实情况弄虚作假"],
        excludes=["1"],
    ),
    _result(
        "E", "发现问题已责令改正", variants=["发现问题经责令已改正"], excludes=["1", *UNREACHABLE]
    ),
    _result("F", "未发现开展本次抽查涉及的经营活动", excludes=["1", "A", "E", *UNREACHABLE]),
    _result(
        "6",
        "通过登记的住所（经营场所）无法联系",
        variants=["无法取得联系"],
        excludes=["1", "A", "E", "F", "7", "8", "9", "10", "11", "12"],
        clue="查无下落：列入经营异常名录的线索",
    ),
    _result(
        "7",
        "已关闭停业或正在组织清算",
        excludes=["1", "A", "E", "F", "6", "8", "9", "10", "11", "12"],
    ),
    _result(
        "8",
        "不配合检查情节严重",
        variants=["不予配合情节严重"],
        excludes=["1", "A", "E", "F", "6", "7", "9", "10", "11", "12"],
    ),
    _result("9", "已注销", exclusive=True),
    _result("10", "被吊销营业执照", exclusive=True),
    _result("11", "被撤销登记", exclusive=True),
    _result("12", "已迁出", exclusive=True),
]


def _measure(code: str, text: str, **kw: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "code": code,
        "text": text,
        "exclusive": False,
        "excludes": [],
        "referral": None,
        "requires_text": False,
        "states": ["未完结", "已完结"],
        "active": True,
    }
    entry.update(kw)
    return entry


FOLLOW_UP_MEASURES = [
    _measure("none", "无须后续处置", exclusive=True),
    _measure("feedback", "停止检查，反馈至日常监管部门依法依规处理"),
    _measure("rectify", "违反本部门相关规定，责令限期整改，后续跟踪由日常监管部门负责"),
    _measure(
        "transfer_case",
        "发现案件线索，初步固定证据后移送办案机构",
        referral={"kind": "移送", "target": "办案机构", "requires": ["target", "findings"]},
    ),
    _measure(
        "notify_department",
        "违反其他部门相关规定，抄告相关部门",
        referral={"kind": "抄告", "target": "相关部门", "requires": ["target", "findings"]},
    ),
    _measure("penalty", "违法处罚"),
    _measure(
        "criminal",
        "刑事立案（移送司法机关）",
        referral={"kind": "移送", "target": "司法机关", "requires": ["target", "findings"]},
    ),
    _measure("other", "其他", requires_text=True),
]

VERIFICATION_METHODS = [
    {"code": code, "text": text, "active": True}
    for code, text in [
        ("on_site", "实地检查"),
        ("documents", "书面检查"),
        ("other_authority", "行政部门检查结果或专业意见"),
        ("testing", "检验检测"),
        ("online_monitoring", "网络监测"),
        ("expert_agency", "委托专业机构辅助"),
    ]
]

REQUESTED_DOCUMENTS = [
    {"code": code, "text": text, "active": True}
    for code, text in [
        ("business_license", "营业执照"),
        ("permit", "许可证 / 备案证明"),
        ("identity", "身份证明"),
        ("ledger", "台账"),
        ("other", "其他"),
    ]
]

TABLES = [
    ("result_category", "检查结果", RESULT_CATEGORIES),
    ("follow_up_measure", "后续处置", FOLLOW_UP_MEASURES),
    ("verification_method", "核查方式", VERIFICATION_METHODS),
    ("requested_document", "要求提供材料", REQUESTED_DOCUMENTS),
]

code_table_versions = sa.table(
    "code_table_versions",
    sa.column("id", advanced_alchemy.types.GUID()),
    sa.column("name", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("title", sa.String()),
    sa.column("entries", advanced_alchemy.types.JsonB),
    sa.column("published_at", advanced_alchemy.types.DateTimeUTC(timezone=True)),
)


def upgrade() -> None:
    published = datetime(2026, 11, 29, tzinfo=UTC)
    op.bulk_insert(
        code_table_versions,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"zsjg:code-table:{name}:1"),
                "name": name,
                "version": 1,
                "title": title,
                "entries": entries,
                "published_at": published,
            }
            for name, title, entries in TABLES
        ],
    )


def downgrade() -> None:
    op.execute(
        code_table_versions.delete().where(
            code_table_versions.c.version == 1,
            code_table_versions.c.name.in_([name for name, _, _ in TABLES]),
        )
    )
