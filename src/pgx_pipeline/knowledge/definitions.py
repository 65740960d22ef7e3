"""Allele definitions: PharmCAT's `<GENE>_translation.json` + `exemptions.json` to gene/position/allele tables.

The matcher works on these tables only; this module is where upstream quirks are absorbed
(ignored positions and alleles, extra reported positions, IUPAC cells) and where inconsistent
definitions are refused before they can produce a wrong call.
"""

from __future__ import annotations

import pandas as pd

from ..errors import PgxInputError
from .sources import SourceSet

# PharmCAT (NamedAlleleMatcher-201, "Undocumented Variations"): for genes whose defined variants affect drug
# toxicity, an undocumented ALT at a defining position is read as reference (and flagged) instead of no-call.
UNDOCUMENTED_AS_REFERENCE = frozenset({"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"})

IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}


def load_definitions(sources: SourceSet) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Parse every gene definition into (genes, positions, alleles) DataFrames (schema KB_GENES/POSITIONS/ALLELES)."""
    loaded = sources.load_json("definition/alleles/exemptions.json")
    exemptions = loaded[0] if loaded else {}
    genes, positions, alleles = [], [], []
    names = [n for n in sources.names("definition/alleles", "_translation.json")]
    if not names:
        raise PgxInputError("no definition/alleles/*_translation.json in the knowledge sources")
    for relpath in names:
        data, src = sources.load_json(relpath)
        g, p, a = _parse_gene(data, exemptions.get(data.get("gene"), {}), str(src.path))
        genes.append(g)
        positions.extend(p)
        alleles.extend(a)
    return pd.DataFrame(genes), pd.DataFrame(positions), pd.DataFrame(alleles)


def _parse_gene(data: dict, exempt: dict, where: str) -> tuple[dict, list[dict], list[dict]]:
    gene = data["gene"]
    variants = data["variants"]
    named = data["namedAlleles"]
    n = len(variants)
    ignored = [_variant_key(v) for v in exempt.get("ignoredPositions", [])]
    ignored_alleles = set(exempt.get("ignoredAlleles", []))
    # An ignored "position" is a variant: G6PD ignores the deletion CGGT>C at chrX:154532990, where the Chatham SNV
    # C>T (rs5030869) starts too; dropping by coordinate alone would drop Chatham with it (and RYR1 c.14509C>G with
    # the ignored CA>C at chr19:38580126). PharmCAT ships the definitions with the ignored variants already removed.
    keep = [i for i, v in enumerate(variants) if _variant_key(v) not in ignored]

    seen_pos = [variants[i]["position"] for i in keep]
    if len(set(seen_pos)) != len(seen_pos):
        raise PgxInputError(f"{gene}: a position is defined twice; the definition file is inconsistent", path=where)

    positions = []
    for new_idx, i in enumerate(keep):
        v = variants[i]
        positions.append(
            {
                "gene": gene,
                "position_index": new_idx,
                "chromosome": v["chromosome"],
                "position": int(v["position"]),
                "rsid": v.get("rsid"),
                "hgvs": v.get("chromosomeHgvsName"),
                "ref": v["ref"],
                "alts": list(v.get("alts") or []),
                "is_extra": False,
            }
        )
    for v in exempt.get("extraPositions", []):
        positions.append(
            {
                "gene": gene, "position_index": -1, "chromosome": v["chromosome"], "position": int(v["position"]),
                "rsid": v.get("rsid"), "hgvs": v.get("chromosomeHgvsName"), "ref": v["ref"],
                "alts": list(v.get("alts") or []), "is_extra": True,
            }
        )

    alleles = []
    reference = None
    names_seen: set[str] = set()
    for a in named:
        name = a["name"]
        if name in ignored_alleles:
            continue
        if name in names_seen:
            raise PgxInputError(f"{gene}: allele {name} is defined twice", path=where)
        names_seen.add(name)
        cells = a["alleles"]
        if len(cells) != n:
            raise PgxInputError(f"{gene} {name}: {len(cells)} cells for {n} positions", path=where)
        bases = [cells[i] for i in keep]
        for b, pos in zip(bases, positions):
            if b is not None and not _is_known_base(b, pos):
                raise PgxInputError(
                    f"{gene} {name}: base {b!r} at {pos['chromosome']}:{pos['position']} is neither REF, a documented ALT "
                    "nor an IUPAC code", path=where,
                )
        if not a.get("reference") and all(b is None for b in bases):
            # Defined only at ignored positions (exemptions.json): indistinguishable from the reference, never callable.
            continue
        if a.get("reference"):
            if reference is not None:
                raise PgxInputError(f"{gene}: two reference alleles ({reference}, {name})", path=where)
            if any(b is None for b in bases):
                raise PgxInputError(f"{gene}: reference allele {name} leaves positions blank", path=where)
            for b, pos in zip(bases, positions):
                if b != pos["ref"] and pos["ref"] not in IUPAC.get(b, ""):
                    raise PgxInputError(
                        f"{gene}: reference allele {name} has {b!r} where the genome has {pos['ref']!r} at "
                        f"{pos['chromosome']}:{pos['position']}; the definitions are not on GRCh38", path=where,
                    )
            reference = name
        alleles.append(
            {
                "gene": gene,
                "allele": name,
                "allele_id": a.get("id"),
                "is_reference": bool(a.get("reference")),
                "bases": bases,
                "n_defined": sum(b is not None for b in bases),
            }
        )
    if reference is None:
        raise PgxInputError(f"{gene}: no reference allele in the definition", path=where)

    gene_row = {
        "gene": gene,
        "chromosome": data["chromosome"],
        "genome_build": data.get("genomeBuild") or "GRCh38",
        "refseq_chromosome": data.get("refSeqChromosomeId"),
        "reference_allele": reference,
        "n_positions": len(keep),
        "n_alleles": len(alleles),
        "undocumented_as_reference": gene in UNDOCUMENTED_AS_REFERENCE,
        "required_positions": [int(p) for p in exempt.get("requiredPositions", [])],
        "ignored_alleles": sorted(ignored_alleles),
        "unphased_priorities": [
            {"candidates": list(p["list"]), "pick": p["pick"]} for p in exempt.get("unphasedDiplotypePriorities", [])
        ],
        "data_version": str(data.get("version")),
    }
    if not str(gene_row["genome_build"]).startswith("GRCh38"):
        raise PgxInputError(f"{gene}: definitions are on {gene_row['genome_build']}, the pipeline reads GRCh38", path=where)
    return gene_row, positions, alleles


def _variant_key(v: dict) -> tuple:
    """A variant's identity: chromosome, position, REF and ALTs (never the coordinate alone)."""
    return (v["chromosome"], int(v["position"]), v["ref"], tuple(sorted(v.get("alts") or [])))


def _is_known_base(base: str, pos: dict) -> bool:
    documented = {pos["ref"], *pos["alts"]}
    if base in documented:
        return True
    return len(base) == 1 and base in IUPAC
