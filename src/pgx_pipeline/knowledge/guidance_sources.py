"""Guideline recommendations (CPIC, DPWG) and reporter messages to flat tables.

Reads the current release's single `reporter/prescribing_guidance.json` when a source has it, otherwise
the older one-file-per-guideline `reporter/guidelines/*.json`.  Lookup keys become two aligned lists
(`lookup_genes`, `lookup_values`); a diplotype-valued key ({"*1": 1, "*3": 1}) becomes canonical text.
"""

from __future__ import annotations

import html
import json
import re

import pandas as pd

from .. import schema
from ..errors import PgxInputError
from .sources import SourceFile, SourceSet

SOURCES_KEPT = ("CPIC", "DPWG")


def diplotype_key_text(value: dict) -> str:
    """Canonical text for a diplotype-valued lookup key: alleles sorted, copies as integers."""
    return json.dumps({k: int(v) for k, v in sorted(value.items())}, sort_keys=True)


def html_to_text(fragment: str | None) -> str | None:
    if not fragment:
        return None
    text = re.sub(r"</(p|h\d|li|div)>|<br\s*/?>", "\n", fragment)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def load_guidance(sources: SourceSet) -> pd.DataFrame:
    combined = sources.load_json("reporter/prescribing_guidance.json", required=False)
    guidelines: list[tuple[dict, SourceFile]] = []
    if combined is not None:
        data, src = combined
        items = data.get("guidelines", data) if isinstance(data, dict) else data
        guidelines = [(g, src) for g in items]
    else:
        for relpath in sources.names("reporter/guidelines", ".json"):
            guidelines.append(sources.load_json(relpath))
    if not guidelines:
        raise PgxInputError("no guideline recommendations in the knowledge sources (reporter/prescribing_guidance.json "
                            "or reporter/guidelines/*.json)")
    rows = []
    for g, src in guidelines:
        rows.extend(_guideline_rows(g, src))
    return pd.DataFrame(rows, columns=schema.KB_GUIDANCE.column_names)


def _guideline_rows(doc: dict, src: SourceFile) -> list[dict]:
    meta = doc.get("guideline", doc)
    source = meta.get("source")
    if source not in SOURCES_KEPT:
        return []
    genes = sorted({g["symbol"] for g in meta.get("relatedGenes") or [] if g.get("symbol")})
    out = []
    for rec in doc.get("recommendations") or []:
        lookup = rec.get("lookupKey") or {}
        if isinstance(lookup, list):  # v3 shape: a list of {gene: value} objects
            merged: dict = {}
            for part in lookup:
                merged.update(part)
            lookup = merged
        lgenes = sorted(lookup)
        values = [diplotype_key_text(lookup[g]) if isinstance(lookup[g], dict) else str(lookup[g]) for g in lgenes]
        text = rec.get("text")
        text = text.get("html") if isinstance(text, dict) else text
        for chem in rec.get("relatedChemicals") or meta.get("relatedChemicals") or []:
            out.append(
                {
                    "guideline_id": meta.get("id"),
                    "guideline_name": meta.get("name"),
                    "source": source,
                    "guideline_version": str(meta.get("version")),
                    "url": meta.get("url"),
                    "drug": chem["name"],
                    "genes": genes or lgenes,
                    "recommendation_id": rec.get("id"),
                    "population": rec.get("population") or "general",
                    "lookup_genes": lgenes,
                    "lookup_values": values,
                    "recommendation": html_to_text(text),
                    "implications": list(rec.get("implications") or []),
                    "classification": (rec.get("classification") or {}).get("term"),
                    "dosing_information": bool(rec.get("dosingInformation")),
                    "alternate_drug": bool(rec.get("alternateDrugAvailable")),
                    "other_guidance": bool(rec.get("otherPrescribingGuidance")),
                    "data_version": str(doc.get("version") or meta.get("version")),
                    "stale_source": src.root.stale,
                }
            )
    # A guideline with no lookup recommendation (e.g. CPIC warfarin: a dosing algorithm) still names its drugs.
    if not out:
        for chem in meta.get("relatedChemicals") or []:
            out.append(
                {
                    "guideline_id": meta.get("id"), "guideline_name": meta.get("name"), "source": source,
                    "guideline_version": str(meta.get("version")), "url": meta.get("url"), "drug": chem["name"],
                    "genes": genes, "recommendation_id": "none", "population": "general", "lookup_genes": [],
                    "lookup_values": [], "recommendation": None, "implications": [], "classification": None,
                    "dosing_information": False, "alternate_drug": False, "other_guidance": False,
                    "data_version": str(doc.get("version") or meta.get("version")), "stale_source": src.root.stale,
                }
            )
    return out


def load_messages(sources: SourceSet) -> pd.DataFrame:
    data, src = sources.load_json("reporter/messages.json")
    items = data.get("messages", data) if isinstance(data, dict) else data
    rows = []
    for m in items:
        match = m.get("matches") or {}
        rows.append(
            {
                "name": m.get("rule_name") or m.get("name"),
                "exception_type": m.get("exception_type"),
                "gene": match.get("gene"),
                "haps_called": list(match.get("hapsCalled") or []),
                "haps_missing": list(match.get("hapsMissing") or []),
                "variants_missing": list(match.get("variantsMissing") or []),
                "variants": list(match.get("variant") or []),
                "diplotypes": list(match.get("dips") or []),
                "drugs": list(match.get("drugs") or []),
                "message": html_to_text(m.get("message")) or "",
                "data_version": str(m.get("version") or "1"),
            }
        )
    return pd.DataFrame(rows, columns=schema.KB_MESSAGES.column_names)
