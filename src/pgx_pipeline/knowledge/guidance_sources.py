"""Guideline recommendations (CPIC, DPWG) and reporter messages to flat tables.

Reads the current release's single `reporter/prescribing_guidance.json` (v3: CPIC, DPWG and FDA in one file) when
a source has it, otherwise the older one-file-per-guideline `reporter/guidelines/*.json`.  Lookup keys become two aligned lists
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
    rows = []
    if combined is not None:
        data, src = combined
        version, packages = prescribing_guidance_packages(data, src)
        for package in packages:
            rows.extend(_guideline_rows(package, src, data_version=version))
    else:
        for relpath in sources.names("reporter/guidelines", ".json"):
            doc, src = sources.load_json(relpath)
            rows.extend(_guideline_rows(doc, src, data_version=str(doc.get("version"))))
    if not rows:
        raise PgxInputError("no CPIC or DPWG recommendations in the knowledge sources (reporter/prescribing_guidance.json "
                            "or reporter/guidelines/*.json)")
    return pd.DataFrame(rows, columns=schema.KB_GUIDANCE.column_names)


def prescribing_guidance_packages(data, src: SourceFile) -> tuple[str, list[dict]]:
    """PharmCAT v3's reporter/prescribing_guidance.json (PrescribingGuidanceDataset in PharmCAT's reporter):
    {"version": "<data release>", "guidelines": [GuidelinePackage, ...]}, a package being
    {"guideline": {id, name, objCls, source, version, url, relatedChemicals, relatedGenes, ...},
     "recommendations": [...], "citations": [...], "url": ...}. CPIC and DPWG guideline annotations and FDA label
    annotations / PGx associations share the file; `source` + `objCls` tell them apart."""
    if not isinstance(data, dict) or not isinstance(data.get("guidelines"), list) or not data.get("version"):
        raise PgxInputError("is not PharmCAT's v3 prescribing guidance (expected an object with 'version' and a "
                            "'guidelines' list); replace it with the upstream file", path=src.path)
    for i, package in enumerate(data["guidelines"]):
        if not isinstance(package, dict) or not isinstance(package.get("guideline"), dict):
            raise PgxInputError(f"guidelines[{i}] has no 'guideline' object; replace it with the upstream file",
                                path=src.path)
    return str(data["version"]), data["guidelines"]


def _lookup_alternatives(lookup) -> list[dict]:
    """A recommendation's lookup keys. v3 writes a list of {gene: value} maps, each one an alternative key that the
    recommendation applies to (PharmCAT's RecommendationAnnotation.matchesGenotype: any of them); the per-guideline
    files of 2024 wrote one map."""
    if isinstance(lookup, list):
        return [alt for alt in lookup if alt] or [{}]
    return [lookup or {}]


def _guideline_rows(doc: dict, src: SourceFile, *, data_version: str) -> list[dict]:
    meta = doc.get("guideline", doc)
    source = meta.get("source")
    # CPIC and DPWG guideline annotations only; FDA label annotations share the v3 file (objCls "Label Annotation").
    if source not in SOURCES_KEPT or meta.get("objCls", "Guideline Annotation") != "Guideline Annotation":
        return []
    genes = sorted({g["symbol"] for g in meta.get("relatedGenes") or [] if g.get("symbol")})
    url = meta.get("url") or doc.get("url")
    out = []
    for rec in doc.get("recommendations") or []:
        text = rec.get("text")
        text = text.get("html") if isinstance(text, dict) else text
        for lookup in _lookup_alternatives(rec.get("lookupKey")):
            lgenes = sorted(lookup)
            values = [diplotype_key_text(lookup[g]) if isinstance(lookup[g], dict) else str(lookup[g]) for g in lgenes]
            for chem in rec.get("relatedChemicals") or meta.get("relatedChemicals") or []:
                out.append(
                    {
                        "guideline_id": meta.get("id"),
                        "guideline_name": meta.get("name"),
                        "source": source,
                        "guideline_version": str(meta.get("version")),
                        "url": url,
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
                        "data_version": data_version,
                        "stale_source": src.root.stale,
                    }
                )
    # A guideline with no lookup recommendation (e.g. CPIC warfarin: a dosing algorithm) still names its drugs.
    if not out:
        for chem in meta.get("relatedChemicals") or []:
            out.append(
                {
                    "guideline_id": meta.get("id"), "guideline_name": meta.get("name"), "source": source,
                    "guideline_version": str(meta.get("version")), "url": url, "drug": chem["name"],
                    "genes": genes, "recommendation_id": "none", "population": "general", "lookup_genes": [],
                    "lookup_values": [], "recommendation": None, "implications": [], "classification": None,
                    "dosing_information": False, "alternate_drug": False, "other_guidance": False,
                    "data_version": data_version, "stale_source": src.root.stale,
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
