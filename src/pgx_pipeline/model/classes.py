"""Dose classes: a drug model's three dose groups, kept free of scikit-learn so reports can use them cheaply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("low", "intermediate", "high")


@dataclass(frozen=True)
class DoseClasses:
    """Three dose groups by two cut points: low <= `low_max`, high >= `high_min`, intermediate between."""

    low_max: float
    high_min: float
    unit: str
    convention: str

    @property
    def text(self) -> str:
        return (f"low <= {self.low_max:g} {self.unit}; intermediate > {self.low_max:g} and < {self.high_min:g} "
                f"{self.unit}; high >= {self.high_min:g} {self.unit} ({self.convention})")

    def of(self, dose) -> np.ndarray:
        """Dose -> class index 0 low, 1 intermediate, 2 high."""
        dose = np.asarray(dose, dtype=float)
        return np.where(dose <= self.low_max, 0, np.where(dose < self.high_min, 1, 2))

    def name_of(self, dose: float) -> str:
        return CLASS_NAMES[int(self.of(dose))]


# IWPC/NEJM 2009 warfarin dose groups (the paper's buckets; CS234's <21 / >49 variant differs for 390 patients).
IWPC_CLASSES = DoseClasses(low_max=21.0, high_min=49.0, unit="mg/week", convention="IWPC, NEJM 2009")
