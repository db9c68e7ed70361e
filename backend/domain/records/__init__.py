"""Inspection records as documents: the printed inspection record form (检查记录表)."""
