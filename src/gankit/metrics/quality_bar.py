"""The bar of "time to quality": samples that cover every class with a class histogram close to
the real one, by the domain classifier (10/10 classes on MNIST and class KL ≤ 0.02). One
definition for the bench that stops a run there and the report that reads it off a run's
``eval_history.jsonl``. No torch here: the report reads it from files alone."""
from __future__ import annotations

from typing import Optional

MAX_CLASS_KL = 0.02


def reaches_quality(row: dict, max_kl: float = MAX_CLASS_KL) -> bool:
    """Whether one classifier record (an ``eval_history.jsonl`` row) clears the bar."""
    covered, total = row.get("classes_covered"), row.get("classes_total")
    return covered is not None and covered == total and row.get("class_kl", float("inf")) <= max_kl


def first_at_quality(history: list[dict], max_kl: float = MAX_CLASS_KL) -> Optional[dict]:
    """The first record of a run's history that clears the bar, or None."""
    return next((row for row in history if reaches_quality(row, max_kl)), None)
