"""Anonymization of people shown to promoters: masked names, never phones."""

from __future__ import annotations


def mask_name(name: str | None) -> str:
    """Keep the first character only: '张三丰' → '张**', 'Alice' → 'A****'."""
    if not name:
        return "***"
    name = name.strip()
    if len(name) <= 1:
        return name + "*"
    return name[0] + "*" * min(len(name) - 1, 4)


def mask_phone(phone: str | None) -> str | None:
    """'13812345678' → '138****5678' (for staff screens; promoters never get phones)."""
    if not phone:
        return None
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
