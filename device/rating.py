"""The national five-level satisfaction scale used at every counter."""

from __future__ import annotations

from enum import StrEnum


class RatingLevel(StrEnum):
    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASIC = "basic"
    UNSATISFIED = "unsatisfied"
    VERY_UNSATISFIED = "very_unsatisfied"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def score(self) -> int:
        """5 (非常满意) down to 1 (非常不满意), as the evaluation reports count them."""
        return _SCORES[self]

    @property
    def unsatisfied(self) -> bool:
        """An unsatisfied rating is an immediate alert and a work order at HQ."""
        return self in (RatingLevel.UNSATISFIED, RatingLevel.VERY_UNSATISFIED)


_LABELS = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASIC: "基本满意",
    RatingLevel.UNSATISFIED: "不满意",
    RatingLevel.VERY_UNSATISFIED: "非常不满意",
}
_SCORES = {
    RatingLevel.VERY_SATISFIED: 5,
    RatingLevel.SATISFIED: 4,
    RatingLevel.BASIC: 3,
    RatingLevel.UNSATISFIED: 2,
    RatingLevel.VERY_UNSATISFIED: 1,
}
