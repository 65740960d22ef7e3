"""Phenotype files (`phenotype/<GENE>.json`) to allele-function and diplotype-phenotype tables.

Two upstream shapes are read: the current one (with `namedAlleles`) and the older one still in the stale
fallback (G6PD: only a `haplotypes` name -> function map).  A diplotype's alleles come from its
`diplotypekey` (allele -> copies), so haploid entries (G6PD males) have one allele.
"""

from __future__ import annotations

import pandas as pd

from ..errors import PgxInputError
from .sources import SourceSet

FUNCTION_COLUMNS = ["gene", "allele", "function", "activity_value", "lookup_key", "data_version", "stale_source"]
DIPLOTYPE_COLUMNS = [
    "gene", "diplotype", "allele1", "allele2", "phenotype", "activity_score", "lookup_key", "data_version", "stale_source",
]


def pair_key(allele1: str | None, allele2: str | None) -> str:
    """Order-free key of a diplotype: the same for *17/*2 and *2/*17; haploid calls keep one name."""
    names = sorted(a for a in (allele1, allele2) if a is not None)
    return "|".join(names) if len(names) == 2 else (names[0] + "|" if names else "")


def load_phenotypes(sources: SourceSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    functions, diplotypes = [], []
    for relpath in sources.names("phenotype", ".json"):
        data, src = sources.load_json(relpath)
        gene = data.get("gene") or relpath.rsplit("/", 1)[-1].removesuffix(".json")
        version = str(data.get("version") or "unknown")
        stale = src.root.stale
        named = data.get("namedAlleles")
        if named:
            for a in named:
                functions.append([gene, a["name"], a.get("functionValue"), a.get("activityValue"), a.get("lookupKey"), version, stale])
        else:
            activity = data.get("activityValues") or {}
            for name, function in (data.get("haplotypes") or {}).items():
                functions.append([gene, name, function, activity.get(name), activity.get(name) or function, version, stale])
        known = {row[1] for row in functions if row[0] == gene}
        seen: dict[str, tuple] = {}
        for d in data.get("diplotypes") or []:
            alleles = [name for name, copies in (d.get("diplotypekey") or {}).items() for _ in range(int(copies))]
            if not 1 <= len(alleles) <= 2:
                raise PgxInputError(f"{gene} diplotype {d.get('diplotype')!r} has {len(alleles)} alleles", path=src.path)
            unknown = [a for a in alleles if a not in known]
            if unknown:
                raise PgxInputError(f"{gene} diplotype {d.get('diplotype')!r} names allele(s) {unknown} with no function", path=src.path)
            a1, a2 = (alleles + [None])[:2]
            phenotype = d.get("phenotype") or d.get("generesult")
            key = pair_key(a1, a2)
            if key in seen and seen[key] != (phenotype, d.get("lookupkey")):
                raise PgxInputError(f"{gene} diplotype {d.get('diplotype')!r} appears twice with different phenotypes", path=src.path)
            seen[key] = (phenotype, d.get("lookupkey"))
            diplotypes.append([gene, d["diplotype"], a1, a2, phenotype, d.get("activityScore"), d.get("lookupkey") or phenotype, version, stale])
    return pd.DataFrame(functions, columns=FUNCTION_COLUMNS), pd.DataFrame(diplotypes, columns=DIPLOTYPE_COLUMNS)
