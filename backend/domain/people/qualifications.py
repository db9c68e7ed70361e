"""Qualification areas (执法领域) an inspector may hold and an item requires."""

from __future__ import annotations

QUALIFICATION_AREAS: dict[str, str] = {
    "food": "食品安全",
    "special_equipment": "特种设备安全",
    "product_quality": "产品质量",
    "registration": "登记注册与信息公示",
    "advertising": "广告监管",
    "pricing": "价格监督检查",
    "metrology": "计量监督",
    "drugs": "药品医疗器械化妆品",
    "ip": "知识产权",
    "online_trade": "网络交易监管",
    "health": "卫生监督",
    "environment": "生态环境",
    "work_safety": "安全生产",
    "culture": "文化市场",
    "agriculture": "农业农资",
}
