"""The warfarin dose classes (IWPC, NEJM 2009), kept free of scikit-learn so reports can use them cheaply."""

from __future__ import annotations

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("low", "intermediate", "high")
# IWPC/NEJM 2009 dose groups in mg/week: low <= 21, intermediate (21, 49), high >= 49.
LOW_MAX = 21.0
HIGH_MIN = 49.0
DOSE_CLASSES = "low <= 21 mg/week; intermediate > 21 and < 49 mg/week; high >= 49 mg/week (IWPC, NEJM 2009)"


def dose_class(dose) -> np.ndarray:
    """Weekly dose (mg) -> class index 0 low, 1 intermediate, 2 high (IWPC convention)."""
    dose = np.asarray(dose, dtype=float)
    return np.where(dose <= LOW_MAX, 0, np.where(dose < HIGH_MIN, 1, 2))
