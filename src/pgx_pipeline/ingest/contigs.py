"""Contig names: `chr10`, `10` and `NC_000010.11` (GRCh37: `NC_000010.10`) are one chromosome."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import PgxInputError
from .builds import GRCH37_REFSEQ, LENGTHS

GRCH38_LENGTHS = LENGTHS["GRCh38"]


class ContigMap:
    """Translate between the knowledge base's contig names and the ones a VCF uses."""

    def __init__(self, kb_to_vcf: dict[str, str | None], alias_to_kb: dict[str, str]) -> None:
        self._kb_to_vcf = kb_to_vcf
        self._alias_to_kb = alias_to_kb

    @classmethod
    def from_header(cls, vcf, kb_genes: pd.DataFrame, path: Path, build: str = "GRCh38") -> "ContigMap":
        try:
            present = list(vcf.seqnames)
        except Exception:  # cyvcf2 raises when there are neither ##contig lines nor an index
            present = []
        lengths = _header_lengths(vcf.raw_header)
        alias_to_kb: dict[str, str] = {}
        kb_to_vcf: dict[str, str | None] = {}
        for kb_chrom, refseq in kb_genes[["chromosome", "refseq_chromosome"]].drop_duplicates().itertuples(index=False):
            aliases = [kb_chrom, kb_chrom.removeprefix("chr"), refseq if build == "GRCh38" else GRCH37_REFSEQ.get(kb_chrom)]
            if kb_chrom == "chrX":
                aliases.append("23")
            aliases = [a for a in aliases if a]
            for a in aliases:
                alias_to_kb[a] = kb_chrom
            found = [a for a in aliases if a in present]
            # Without contig lines or an index we cannot know the names before streaming: take the KB's.
            kb_to_vcf[kb_chrom] = found[0] if found else (None if present else kb_chrom)
            for a in found:
                expected = LENGTHS[build].get(kb_chrom)
                if a in lengths and expected and lengths[a] != expected:
                    raise PgxInputError(
                        f"contig {a} is {lengths[a]:,} bp long in the header, {build} {kb_chrom} is {expected:,} bp: "
                        f"this file is not on {build} (nor on {'GRCh37' if build == 'GRCh38' else 'GRCh38'}, whose "
                        "length the header would then give); check the reference it was called on",
                        path=path,
                    )
        return cls(kb_to_vcf, alias_to_kb)

    def vcf_name(self, kb_chrom: str) -> str | None:
        return self._kb_to_vcf.get(kb_chrom)

    def to_kb(self, vcf_chrom: str) -> str | None:
        return self._alias_to_kb.get(vcf_chrom)

    @staticmethod
    def check_build(n_mismatch: int, n_seen: int, path: Path, build: str = "GRCh38", evidence: str = "") -> None:
        """Many REF mismatches at defining positions mean the coordinates are from another build."""
        if n_seen >= 5 and n_mismatch / n_seen > 0.2:
            raise PgxInputError(
                f"REF disagrees with {build} at {n_mismatch} of {n_seen} allele-defining positions, though the file "
                f"was read as {build} ({evidence or 'default'}): it is on another build or reference; state the build "
                "its records are on (--build GRCh37 / GRCh38) or fix its header",
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
