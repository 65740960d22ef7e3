"""Find the allele-defining positions where GRCh37's reference base differs from GRCh38's, from real data.

    python scripts/find_build_differences.py [--panel DIR] [--chain FILE] > src/pgx_pipeline/knowledge/grch37_reference_differences.tsv

A liftOver chain maps coordinates, not bases. The 1000 Genomes panels on both builds (../shared/reference-samples/
pypgx-bundle-1kgp: 2,504 people on GRCh37, all among the 3,202 on GRCh38) show the bases: a GRCh37 record at a
lifted definition position whose REF is not the GRCh38 REF is a reference difference (its REF is GRCh37's base);
a GRCh38 record whose ALT nearly everyone carries while GRCh37 has no record at the lifted position means GRCh37's
base is that ALT. The output is reviewed and shipped with the package; the knowledge build reads it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PANEL = SHARED / "reference-samples" / "pypgx-bundle-1kgp"


def records(files: list[Path], chrom_pos: list[tuple[str, int]]) -> pd.DataFrame:
    """chrom, pos, ref, alt, alt allele count, allele number of every record at the given positions (bcftools)."""
    regions = "\n".join(f"{c}\t{p}" for c, p in chrom_pos) + "\n"
    rows = []
    for f in files:
        view = subprocess.run(["bcftools", "view", "-R", "/dev/stdin", str(f)], input=regions, capture_output=True,
                              text=True, check=True).stdout
        tagged = subprocess.run(["bcftools", "+fill-tags", "-", "--", "-t", "AC,AN"], input=view, capture_output=True,
                                text=True, check=True).stdout
        out = subprocess.run(["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%INFO/AC\t%INFO/AN\n", "-"],
                             input=tagged, capture_output=True, text=True, check=True).stdout
        rows += [line.split("\t") for line in out.splitlines()]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "ac", "an"]).drop_duplicates()
    return df.astype({"pos": "int64", "an": "int64"})


def main() -> None:
    from pgx_pipeline import schema
    from pgx_pipeline.knowledge.build_map import lift_positions, reverse_complement
    from pgx_pipeline.knowledge.embedded import embedded_kb_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=PANEL)
    ap.add_argument("--chain", type=Path, default=SHARED / "genome-builds" / "hg38ToHg19.over.chain.gz")
    args = ap.parse_args()
    positions = schema.read_table(embedded_kb_dir() / "positions.parquet", schema.KB_POSITIONS)
    none = pd.DataFrame(columns=["chromosome", "position", "ref", "grch37_ref", "evidence"])
    lifted = lift_positions(positions, args.chain, differences=none)
    lifted = lifted[lifted["status"] == "lifted"].drop_duplicates(["chromosome", "position"])
    p37 = records(sorted((args.panel / "GRCh37").glob("*.vcf.gz")),
                  [(c.removeprefix("chr"), int(p)) for c, p in zip(lifted.grch37_chromosome, lifted.grch37_position)])
    p38 = records(sorted((args.panel / "GRCh38").glob("*.vcf.gz")),
                  [(c, int(p)) for c, p in zip(lifted.chromosome, lifted.position)])
    out = []
    for r in lifted.itertuples():
        on37 = p37[(p37.chrom == r.grch37_chromosome.removeprefix("chr")) & (p37.pos == r.grch37_position)]
        on38 = p38[(p38.chrom == r.chromosome) & (p38.pos == r.position)]
        ref37 = {x if r.grch37_strand == "+" else reverse_complement(x) for x in on37.ref}
        # The padding base: an indel's REF length depends on how the record is written, not on the build.
        ref37 = {x[0] for x in ref37}
        if ref37 and r.ref[0] not in ref37:
            (base,) = ref37
            out.append((r.chromosome, r.position, r.ref, base,
                        f"1000 Genomes GRCh37 panel REF {base} at {r.grch37_chromosome.removeprefix('chr')}:"
                        f"{r.grch37_position}, GRCh38 REF {r.ref}"))
            continue
        if on37.empty and not on38.empty:
            freq = on38.ac.str.split(",").map(lambda a: sum(int(x) for x in a)) / on38.an
            common = on38[freq > 0.99]
            if len(common) == 1 and len(common.alt.iloc[0]) == 1 == len(r.ref):
                alt = common.alt.iloc[0]
                out.append((r.chromosome, r.position, r.ref, alt,
                            f"1000 Genomes GRCh38 panel: ALT {alt} on >99% of chromosomes, no GRCh37 record at "
                            f"{r.grch37_chromosome.removeprefix('chr')}:{r.grch37_position}"))
    sys.stdout.write(f"# Made by scripts/find_build_differences.py from {args.panel.name} (GRCh37: 2,504 people, GRCh38: "
                     "3,202) and the liftOver chain; reviewed by hand. grch37_ref is written on GRCh38's strand.\n")
    pd.DataFrame(out, columns=["chromosome", "position", "ref", "grch37_ref", "evidence"]).to_csv(
        sys.stdout, sep="\t", index=False)


if __name__ == "__main__":
    main()
