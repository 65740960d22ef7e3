"""Drug models the pipeline knows, by drug name.

A new drug is a `DrugModel` declaration (its feature spec, dose classes, cohort reader, sample-feature hook,
reference rules and card text; see `warfarin.py`) registered here or with `register`, plus a `models:` entry in
the config naming its training file.  Training, validation, storage, the card, prediction, the workflow rules
and the report are shared.
"""

from __future__ import annotations

from ..errors import PgxInputError
from .drug import DrugModel, PublishedFormula
from .warfarin import WARFARIN_MODEL

__all__ = ["MODELS", "WARFARIN_MODEL", "drug_model", "published_formula", "register"]

MODELS: dict[str, DrugModel] = {m.drug: m for m in (WARFARIN_MODEL,)}


def register(entry: DrugModel) -> DrugModel:
    """Add a drug model (a site's own, or a test's); its name must be new."""
    if entry.drug in MODELS and MODELS[entry.drug] is not entry:
        raise ValueError(f"a drug model named {entry.drug!r} is already registered")
    MODELS[entry.drug] = entry
    return entry


def drug_model(drug: str) -> DrugModel:
    """The registered model for `drug`, or an error naming the ones there are."""
    try:
        return MODELS[drug]
    except KeyError:
        raise PgxInputError(f"no drug model named {drug!r}; known: {', '.join(sorted(MODELS))} "
                            "(see pgx_pipeline.model.registry)") from None


def published_formula(name: str) -> PublishedFormula:
    """A registered model's published formula by name (what a saved blend regressor refers to)."""
    for entry in MODELS.values():
        if entry.formula is not None and entry.formula.name == name:
            return entry.formula
    raise PgxInputError(f"no registered drug model has the published formula {name!r}")
