"""Contig names and genome build: `chr10`, `10` and `NC_000010.11` are one chromosome; GRCh37 is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import PgxInputError

# GRCh38 primary assembly lengths of the chromosomes carrying pharmacogenes (GRCh37 lengths all differ).
GRCH38_LENGTHS = {
    "chr1": 248956422, "chr2": 242193529, "chr4": 190214555, "chr6": 170805979, "chr7": 159345973,
    "chr8": 145138636, "chr10": 133797422, "chr12": 133275309, "chr13": 114364328, "chr16": 90338345,
    "chr19": 58617616, "chr22": 50818468, "chrX": 156040895,
}


class ContigMap:
    """Translate between the knowledge base's contig names and the ones a VCF uses."""

    def __init__(self, kb_to_vcf: dict[str, str | None], alias_to_kb: dict[str, str]) -> None:
        self._kb_to_vcf = kb_to_vcf
        self._alias_to_kb = alias_to_kb

    @classmethod
    def from_header(cls, vcf, kb_genes: pd.DataFrame, path: Path) -> "ContigMap":
        try:
            present = list(vcf.seqnames)
        except Exception:  # cyvcf2 raises when there are neither ##contig lines nor an index
            present = []
        lengths = _header_lengths(vcf.raw_header)
        alias_to_kb: dict[str, str] = {}
        kb_to_vcf: dict[str, str | None] = {}
        for kb_chrom, refseq in kb_genes[["chromosome", "refseq_chromosome"]].drop_duplicates().itertuples(index=False):
            aliases = [kb_chrom, kb_chrom.removeprefix("chr"), refseq]
            if kb_chrom == "chrX":
                aliases.append("23")
            aliases = [a for a in aliases if a]
            for a in aliases:
                alias_to_kb[a] = kb_chrom
            found = [a for a in aliases if a in present]
            # Without contig lines or an index we cannot know the names before streaming: take the KB's.
            kb_to_vcf[kb_chrom] = found[0] if found else (None if present else kb_chrom)
            for a in found:
                expected = GRCH38_LENGTHS.get(kb_chrom)
                if a in lengths and expected and lengths[a] != expected:
                    raise PgxInputError(
                        f"contig {a} is {lengths[a]:,} bp long in the header, GRCh38 {kb_chrom} is {expected:,} bp: "
                        "this file is on another build (GRCh37/hg19?); lift it over to GRCh38 or call it on GRCh38",
                        path=path,
                    )
        return cls(kb_to_vcf, alias_to_kb)

    def vcf_name(self, kb_chrom: str) -> str | None:
        return self._kb_to_vcf.get(kb_chrom)

    def to_kb(self, vcf_chrom: str) -> str | None:
        return self._alias_to_kb.get(vcf_chrom)

    @staticmethod
    def check_build(n_mismatch: int, n_seen: int, path: Path) -> None:
        """Many REF mismatches at defining positions mean the coordinates are from another build."""
        if n_seen >= 5 and n_mismatch / n_seen > 0.2:
            raise PgxInputError(
                f"REF disagrees with GRCh38 at {n_mismatch} of {n_seen} allele-defining positions: the file looks like "
                "GRCh37/hg19 coordinates labelled as GRCh38; lift it over to GRCh38",
                path=path,
            )


def _header_lengths(header: str) -> dict[str, int]:
    out = {}
    for line in header.splitlines():
        if line.startswith("##contig=<"):
            fields = dict(
                kv.split("=", 1) for kv in line[len("##contig=<"):].rstrip(">").split(",") if "=" in kv
            )
            if "ID" in fields and fields.get("length", "").isdigit():
                out[fields["ID"]] = int(fields["length"])
    return out
