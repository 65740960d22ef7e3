"""Synthetic VCFs from the knowledge base's allele definitions (a sgkit/PharmCAT-style test factory).

Why: matcher tests need inputs whose truth is known *by construction*.  A sample is described as
"CYP2C19 *2/*17, unphased"; this module turns each named allele into its concrete haplotype (every
blank cell = the reference allele's base) and writes one VCF record per defining position, so the
expected diplotype comes from the generator's choice and never from the code under test.

Conventions (all deterministic, so regenerated files are byte-identical):
- Contigs are written `chr`-prefixed by default, with `##contig` lines carrying GRCh38 lengths;
  `contig_style="plain"` writes `10`, `"refseq"` writes `NC_000010.11`.
- REF/ALT come from `kb_positions` (VCF representation).  ALT lists the documented ALTs some sample
  carries, in definition order; when no sample carries one, the first documented ALT is written
  (as a jointly-called cohort VCF does), so no record has ALT `.`.
- IUPAC cells (e.g. `R` = A/G): the genome REF base when the code includes it, otherwise the first
  of the code's bases, alphabetically, that is a documented ALT at the position (see `resolve_base`).
  The reference allele's own IUPAC cells (CYP2D6 *1) resolve the same way.
- Unphased GTs are written lowest index first (`0/1`), phased ones in haplotype order (`1|0`).
- Genes a sample does not list are written as the gene's reference allele (homozygous, or hemizygous
  on chrX for males), so every record has a genotype for every sample.
- Output is bgzipped and tabix-indexed with pysam.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .. import schema

IUPAC_BASES = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}

CHROM_ORDER = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]

# GRCh38 primary assembly (GCA_000001405.15) sequence lengths and RefSeq accessions.
GRCH38_LENGTHS = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555, "chr5": 181538259,
    "chr6": 170805979, "chr7": 159345973, "chr8": 145138636, "chr9": 138394717, "chr10": 133797422,
    "chr11": 135086622, "chr12": 133275309, "chr13": 114364328, "chr14": 107043718, "chr15": 101991189,
    "chr16": 90338345, "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415, "chrM": 16569,
}
GRCH38_REFSEQ = {
    "chr1": "NC_000001.11", "chr2": "NC_000002.12", "chr3": "NC_000003.12", "chr4": "NC_000004.12",
    "chr5": "NC_000005.10", "chr6": "NC_000006.12", "chr7": "NC_000007.14", "chr8": "NC_000008.11",
    "chr9": "NC_000009.12", "chr10": "NC_000010.11", "chr11": "NC_000011.10", "chr12": "NC_000012.12",
    "chr13": "NC_000013.11", "chr14": "NC_000014.9", "chr15": "NC_000015.10", "chr16": "NC_000016.10",
    "chr17": "NC_000017.11", "chr18": "NC_000018.10", "chr19": "NC_000019.10", "chr20": "NC_000020.11",
    "chr21": "NC_000021.9", "chr22": "NC_000022.11", "chrX": "NC_000023.11", "chrY": "NC_000024.10",
    "chrM": "NC_012920.1",
}


def contig_name(kb_chrom: str, style: str) -> str:
    """`chr10` in the requested naming style: 'chr' (chr10), 'plain' (10) or 'refseq' (NC_000010.11)."""
    if style == "chr":
        return kb_chrom
    if style == "plain":
        return "MT" if kb_chrom == "chrM" else kb_chrom.removeprefix("chr")
    if style == "refseq":
        return GRCH38_REFSEQ[kb_chrom]
    raise ValueError(f"unknown contig style {style!r}")


@dataclass(frozen=True)
class KnowledgeTables:
    """The three definition tables, indexed for the generator."""

    genes: pd.DataFrame
    positions: pd.DataFrame  # defining positions only, sorted by gene then position_index
    alleles: pd.DataFrame
    _memo: dict = field(default_factory=dict, compare=False, repr=False)  # lookups repeat per sample: cache them

    def _cached(self, key: tuple, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    @classmethod
    def from_dir(cls, kb_dir: str | os.PathLike) -> "KnowledgeTables":
        kb_dir = Path(kb_dir)
        genes = schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES)
        positions = schema.read_table(kb_dir / "positions.parquet", schema.KB_POSITIONS)
        alleles = schema.read_table(kb_dir / "alleles.parquet", schema.KB_ALLELES)
        return cls.from_frames(genes, positions, alleles)

    @classmethod
    def from_frames(cls, genes: pd.DataFrame, positions: pd.DataFrame, alleles: pd.DataFrame) -> "KnowledgeTables":
        positions = positions[positions["position_index"] >= 0].sort_values(["gene", "position_index"])
        alleles = alleles.copy()
        alleles["bases"] = [list(b) for b in alleles["bases"]]
        return cls(genes.reset_index(drop=True), positions.reset_index(drop=True), alleles.reset_index(drop=True))

    def gene_row(self, gene: str) -> pd.Series:
        return self._cached(("row", gene), lambda: self.genes[self.genes["gene"] == gene].iloc[0])

    def gene_positions(self, gene: str) -> pd.DataFrame:
        return self._cached(("pos", gene), lambda: self.positions[self.positions["gene"] == gene].reset_index(drop=True))

    def allele_names(self, gene: str) -> list[str]:
        return list(self.alleles.loc[self.alleles["gene"] == gene, "allele"])

    def reference(self, gene: str) -> str:
        return str(self.gene_row(gene)["reference_allele"])

    def cells(self, gene: str, allele: str) -> list[str | None]:
        table = self._cached(("cells", gene), lambda: {
            r.allele: list(r.bases) for r in self.alleles[self.alleles["gene"] == gene].itertuples()})
        if allele not in table:
            raise KeyError(f"{gene} has no named allele {allele!r}")
        return table[allele]

    def chromosome(self, gene: str) -> str:
        return str(self.gene_row(gene)["chromosome"])


def resolve_base(cell: str, ref: str, alts: Sequence[str]) -> str:
    """A concrete VCF allele for a definition cell: IUPAC codes become REF if allowed, else the first ALT."""
    if cell in (ref, *alts) or len(cell) != 1 or cell not in IUPAC_BASES:
        return cell
    allowed = IUPAC_BASES[cell]
    if ref in allowed:
        return ref
    for base in sorted(allowed):
        if base in alts:
            return base
    raise ValueError(f"IUPAC cell {cell!r} allows none of REF {ref!r} / ALTs {list(alts)}")


def allele_haplotype(kb: KnowledgeTables, gene: str, allele: str) -> list[str]:
    """The concrete allele (VCF space) a chromosome carrying `allele` has at each defining position."""
    return kb._cached(("hap", gene, allele), lambda: _haplotype(kb, gene, allele))


def _haplotype(kb: KnowledgeTables, gene: str, allele: str) -> list[str]:
    pos = kb.gene_positions(gene)
    ref_cells = kb.cells(gene, kb.reference(gene))
    out = []
    for cell, ref_cell, row in zip(kb.cells(gene, allele), ref_cells, pos.itertuples()):
        out.append(resolve_base(cell if cell is not None else ref_cell, row.ref, list(row.alts)))
    return out


@dataclass
class SampleSpec:
    """One synthetic sample: per gene two named alleles (one for a male's chrX gene), phasing, missing positions."""

    sample_id: str
    alleles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    phased: bool = False
    missing: frozenset[int] = frozenset()  # genomic positions written as './.'
    male: bool = False
    phase_sets: dict[int, int] = field(default_factory=dict)  # genomic position -> FORMAT/PS value


@dataclass
class Record:
    """One VCF data line; `chrom` uses the knowledge base's naming (chr-prefixed)."""

    chrom: str
    pos: int
    ref: str
    alts: list[str]
    gts: list[str]
    ps: list[int | None] | None = None
    id: str = "."


def genotype_records(
    kb: KnowledgeTables,
    samples: Sequence[SampleSpec],
    genes: Iterable[str] | None = None,
    absent: Iterable[int] = (),
) -> list[Record]:
    """One record per defining position of each gene (all KB genes by default); `absent` positions are left out."""
    genes = sorted(set(genes) if genes is not None else set(kb.genes["gene"]))
    absent = set(absent)
    records = []
    for gene in genes:
        chrom = kb.chromosome(gene)
        haploid_gene = chrom == "chrX"
        pos = kb.gene_positions(gene)
        haps = []  # per sample: list of haplotypes (each a list of bases)
        for s in samples:
            names = s.alleles.get(gene)
            if names is None:
                names = (kb.reference(gene),) if (haploid_gene and s.male) else (kb.reference(gene),) * 2
            want = 1 if (haploid_gene and s.male) else 2
            if len(names) != want:
                raise ValueError(f"{s.sample_id} {gene}: {len(names)} allele(s) given, {want} expected")
            haps.append([allele_haplotype(kb, gene, n) for n in names])
        for p, row in enumerate(pos.itertuples()):
            if int(row.position) in absent:
                continue
            doc_alts = list(row.alts)
            used = {h[p] for sample_haps in haps for h in sample_haps}
            unknown = used - {row.ref, *doc_alts}
            if unknown:
                raise ValueError(f"{gene}:{row.position}: bases {sorted(unknown)} are not REF/ALT of the definition")
            alts = [a for a in doc_alts if a in used] or doc_alts[:1]
            vocab = [row.ref, *alts]
            gts, ps, any_ps = [], [], False
            for s, sample_haps in zip(samples, haps):
                idx = [vocab.index(h[p]) for h in sample_haps]
                if int(row.position) in s.missing:
                    gts.append("." if len(idx) == 1 else "./.")
                elif len(idx) == 1:
                    gts.append(str(idx[0]))
                elif s.phased:
                    gts.append(f"{idx[0]}|{idx[1]}")
                else:
                    gts.append(f"{min(idx)}/{max(idx)}")
                value = s.phase_sets.get(int(row.position))
                any_ps |= value is not None
                ps.append(value)
            records.append(Record(chrom, int(row.position), row.ref, alts, gts, ps if any_ps else None,
                                  row.rsid if isinstance(row.rsid, str) and row.rsid else "."))
    return records


def write_vcf(
    path: str | os.PathLike,
    sample_ids: Sequence[str],
    records: Iterable[Record],
    *,
    contig_style: str = "chr",
    extra_header: Sequence[str] = (),
    compress: bool = True,
) -> Path:
    """Write a VCFv4.2 file (bgzipped + tabix-indexed when `compress`); records are sorted by contig and POS."""
    import pysam

    path = Path(path)
    records = sorted(records, key=lambda r: (CHROM_ORDER.index(r.chrom), r.pos))
    with_ps = any(r.ps is not None for r in records)
    lines = ["##fileformat=VCFv4.2", "##source=pgx_pipeline.testing.synthetic", "##reference=GRCh38"]
    lines += [f"##contig=<ID={contig_name(c, contig_style)},length={GRCH38_LENGTHS[c]},assembly=GRCh38>" for c in CHROM_ORDER]
    lines.append('##FILTER=<ID=PASS,Description="All filters passed">')
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    if with_ps:
        lines.append('##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">')
    lines.extend(extra_header)
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *sample_ids]))
    for r in records:
        if len(r.gts) != len(sample_ids):
            raise ValueError(f"{r.chrom}:{r.pos}: {len(r.gts)} genotypes for {len(sample_ids)} samples")
        if with_ps:
            ps = r.ps or [None] * len(r.gts)
            cells = [f"{g}:{'.' if v is None else v}" for g, v in zip(r.gts, ps)]
            fmt = "GT:PS"
        else:
            cells, fmt = list(r.gts), "GT"
        alt = ",".join(r.alts) if r.alts else "."
        lines.append("\t".join([contig_name(r.chrom, contig_style), str(r.pos), r.id, r.ref, alt, ".", "PASS", ".", fmt, *cells]))
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not compress:
        path.write_text(text)
        return path
    fd, tmp = tempfile.mkstemp(suffix=".vcf", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        pysam.tabix_compress(tmp, str(path), force=True)
    finally:
        Path(tmp).unlink(missing_ok=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def build_kb_dir(source_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> Path:
    """The definition tables (genes, positions, alleles) of a knowledge base, built from PharmCAT-layout folders.

    Only what matching needs: the generator and the calling tests do not depend on the phenotype
    and guidance parts of the build.
    """
    from ..knowledge.definitions import load_definitions
    from ..knowledge.sources import SourceSet

    out = Path(out_dir)
    genes, positions, alleles = load_definitions(SourceSet.from_paths([str(d) for d in source_dirs]))
    for df, name, table in ((genes, "genes", schema.KB_GENES), (positions, "positions", schema.KB_POSITIONS),
                            (alleles, "alleles", schema.KB_ALLELES)):
        schema.write_table(df, out / f"{name}.parquet", table)
    return out
