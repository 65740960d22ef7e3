"""Write small hand-made VCFs for tests (text, optionally bgzipped and indexed with pysam)."""

from __future__ import annotations

from pathlib import Path

import pysam

GRCH38 = {"chr10": 133797422, "chr2": 242193529, "chr22": 50818468, "chrX": 156040895, "chr12": 133275309}


def write_vcf(path: Path, samples: list[str], records: list[str], *, contigs: dict[str, int] | None = None,
              extra_header: list[str] = (), bgzip: bool = False, fmt: str = "GT") -> Path:
    contigs = GRCH38 if contigs is None else contigs
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">',
              '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">', *extra_header]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for r in records:
        fields = r.split()
        if len(fields) == 4 + len(samples):  # CHROM POS REF ALT then genotypes: fill the fixed columns
            chrom, pos, ref, alt, *gts = fields
            fields = [chrom, pos, ".", ref, alt, ".", "PASS", ".", fmt, *gts]
        lines.append("\t".join(fields))
    text = "\n".join(lines) + "\n"
    if not bgzip:
        path.write_text(text)
        return path
    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path
