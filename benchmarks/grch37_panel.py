"""GRCh37 vs GRCh38: the 2,504 1000 Genomes people called from both panels, every sample-gene call compared, and DPYD
(GRCh37 only) with allele frequencies of its decreased-function variants.

    python benchmarks/grch37_panel.py [--panel DIR] > /tmp/grch37.md

Both panels are read as variant-only files (--absent-is-reference, as benchmarks/panel_ingest_call.py does), with
the embedded knowledge base. A difference is explained from the genotype tables: the defining positions where the
two builds' genotypes differ, and whether one panel has no record there. Prints Markdown; nothing here is a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PANEL = REPO.parent / "shared" / "reference-samples" / "pypgx-bundle-1kgp"


def run(build_dir: Path, genes: list[str], kb: Path, out: Path) -> float:
    files = [build_dir / f"{g}.vcf.gz" for g in genes if (build_dir / f"{g}.vcf.gz").exists()]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pgx_pipeline.cli", "ingest", "--input-id", build_dir.name, "--kb", str(kb),
                    "--out-dir", str(out), "--absent-is-reference", *[a for f in files for a in ("--vcf", str(f))]],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pgx_pipeline.cli", "call", "--genotypes", str(out / "genotypes.parquet"),
                    "--samples", str(out / "samples.parquet"), "--kb", str(kb), "--out", str(out / "calls.parquet")],
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    from pgx_pipeline.knowledge.embedded import embedded_kb_dir

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--panel", type=Path, default=PANEL)
    args = ap.parse_args()
    kb = embedded_kb_dir()
    genes = sorted(pd.read_parquet(kb / "genes.parquet").gene)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t37 = run(args.panel / "GRCh37", genes, kb, tmp / "g37")
        t38 = run(args.panel / "GRCh38", genes, kb, tmp / "g38")
        c37 = pd.read_parquet(tmp / "g37" / "calls.parquet")
        c38 = pd.read_parquet(tmp / "g38" / "calls.parquet")
        key = ["sample_id", "gene"]
        first = lambda c: c[c["candidate"] == 1].set_index(key)  # noqa: E731
        a, b = first(c37), first(c38)
        people = a.index.get_level_values(0).unique()
        b = b[b.index.get_level_values(0).isin(people)]
        # Genes with a file in both panels (the GRCh38 panel has no DPYD file).
        shared = sorted(g for g in genes if all((args.panel / b / f"{g}.vcf.gz").exists() for b in ("GRCh37", "GRCh38")))
        both = a[["diplotype"]].join(b[["diplotype"]].rename(columns={"diplotype": "diplotype38"}), how="inner")
        both = both.rename(columns={"diplotype": "diplotype37"})
        both = both[both.index.get_level_values(1).isin(shared)]
        same = (both.diplotype37.fillna("no call") == both.diplotype38.fillna("no call"))
        cols = ["sample_id", "gene", "position", "state", "allele1", "allele2", "ploidy", "vcf_ref"]
        g37 = pd.read_parquet(tmp / "g37" / "genotypes.parquet", columns=cols)
        g38 = pd.read_parquet(tmp / "g38" / "genotypes.parquet", columns=cols)
        diff = both[~same].reset_index()
        g = g37.merge(diff[key], on=key).merge(g38, on=["sample_id", "gene", "position"], suffixes=("37", "38"))
        ref = pd.read_parquet(kb / "positions.parquet").drop_duplicates(["gene", "position"]).set_index(
            ["gene", "position"])["ref"]
        g["ref"] = [ref[(x, y)] for x, y in zip(g.gene, g.position)]

        def alleles(a1, a2, state, r):
            # Variant-only panels: an absent position is the reference (how both runs read them).
            return {r} if state == "absent" else {x for x in (a1, a2) if isinstance(x, str)}

        g["set37"] = [alleles(*v) for v in zip(g.allele137, g.allele237, g.state37, g.ref)]
        g["set38"] = [alleles(*v) for v in zip(g.allele138, g.allele238, g.state38, g.ref)]
        g["gt37"] = [tuple(sorted(str(x) for x in (a1, a2) if isinstance(x, str))) if st != "absent" else (r, r)
                     for a1, a2, st, r in zip(g.allele137, g.allele237, g.state37, g.ref)]
        g["gt38"] = [tuple(sorted(str(x) for x in (a1, a2) if isinstance(x, str))) if st != "absent" else (r, r)
                     for a1, a2, st, r in zip(g.allele138, g.allele238, g.state38, g.ref)]
        dpos = g[g.gt37 != g.gt38].copy()

        def kind(x) -> str:
            if x.set37 == x.set38:
                return "ploidy differs (chrX: the GRCh37 panel writes males diploid, the GRCh38 panel haploid)"
            if pd.isna(x.vcf_ref37):
                return "variant only in the GRCh38 panel (no GRCh37 record at the position)"
            if pd.isna(x.vcf_ref38):
                return "variant only in the GRCh37 panel (no GRCh38 record at the position)"
            return "both panels have a record, genotypes differ (call sets differ)"

        dpos["kind"] = [kind(x) for x in dpos.itertuples()]
        kinds = dpos.groupby(key)["kind"].agg(lambda k: "; ".join(sorted(set(k))))
        diff["explanation"] = [kinds.get((r.sample_id, r.gene), "same genotypes at every defining position: phasing "
                                         "differs between the panels") for r in diff.itertuples()]
        print(f"## GRCh37 vs GRCh38 panel, {len(people):,} people, {len(shared)} genes both panels hold\n")
        print(f"- GRCh37 panel: ingest + call of {len(genes)} genes' files in {t37:.1f} s; GRCh38 panel (3,202 people) "
              f"in {t38:.1f} s (ratio {t37 / t38:.2f}; per person {t37 / len(people) * 1000:.1f} ms vs "
              f"{t38 / 3202 * 1000:.1f} ms)")
        print(f"- sample-gene calls compared: {len(both):,}; identical: {int(same.sum()):,} "
              f"({same.mean() * 100:.2f}%); different: {int((~same).sum()):,}\n")
        print("| gene | compared | identical | different | explanation (count) |\n|---|---|---|---|---|")
        for gene in shared:
            s = same[both.index.get_level_values(1) == gene]
            d = diff[diff.gene == gene]
            ex = "; ".join(f"{k} ({v})" for k, v in d.explanation.value_counts().items())
            print(f"| {gene} | {len(s):,} | {int(s.sum()):,} | {int((~s).sum())} | {ex} |")
        print("\nPositions behind the differences (sample-gene pairs with a different genotype there, by cause):\n")
        print("| gene | GRCh38 position | pairs | cause |\n|---|---|---|---|")
        for (gene, pos, k), grp in dpos.groupby(["gene", "position", "kind"]):
            print(f"| {gene} | {pos} | {len(grp)} | {k} |")
        diff.to_csv(sys.stderr, sep="\t", index=False)

        # DPYD: GRCh37 only.
        dp = a.xs("DPYD", level=1)
        print(f"\n## DPYD on the GRCh37 panel ({len(dp):,} people)\n")
        print("| diplotype | people |\n|---|---|")
        for k, v in dp.diplotype.fillna("no call").value_counts().head(15).items():
            print(f"| {k} | {v} |")
        subprocess.run([sys.executable, "-m", "pgx_pipeline.cli", "phenotype", "--calls", str(tmp / "g37" / "calls.parquet"),
                        "--kb", str(kb), "--out", str(tmp / "g37" / "phen.parquet")], check=False,
                       stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        phen_path = tmp / "g37" / "phen.parquet"
        if phen_path.exists():
            ph = pd.read_parquet(phen_path)
            ph = ph[(ph.gene == "DPYD") & (ph.candidate == 1)]
            print("\n| DPYD phenotype (activity score) | people |\n|---|---|")
            label = ph.phenotype.fillna("none") + " (" + ph.activity_score.astype(str) + ")"
            for k, v in label.value_counts().items():
                print(f"| {k} | {v} |")
        variants = {97450058: "c.1905+1G>A (rs3918290, *2A)", 97082391: "c.2846A>T (rs67376798)",
                    97515787: "c.1679T>G (rs55886062, *13)", 97573863: "c.1236G>A (rs56038477, HapB3)",
                    97579893: "c.1129-5923C>G (rs75017182, HapB3)"}
        gd = g37[(g37.gene == "DPYD") & (g37.position.isin(variants))]
        bm = pd.read_parquet(kb / "build_map.parquet").drop_duplicates("position").set_index("position")
        positions = pd.read_parquet(kb / "positions.parquet").query("gene == 'DPYD'").drop_duplicates("position")
        print("\n| variant (GRCh38 position; GRCh37) | carriers | allele count | allele frequency, 2,504 people | "
              "bcftools on the GRCh37 file: ALT alleles |\n|---|---|---|---|---|")
        for pos, name in variants.items():
            x = gd[gd.position == pos]
            ref = positions.set_index("position").ref[pos]
            alt = sum((col.notna() & (col != ref)).astype(int) for col in (x.allele1, x.allele2))
            p37 = int(bm.grch37_position[pos])
            # An independent read of the raw file at the lifted position: ALT allele count over all people.
            gts = subprocess.run(["bcftools", "query", "-r", f"1:{p37}", "-f", "[%GT\\n]",
                                  str(args.panel / "GRCh37" / "DPYD.vcf.gz")], capture_output=True, text=True).stdout
            raw = sum(gt.replace("|", "/").split("/").count("1") for gt in gts.split())
            print(f"| {name} ({pos}; 1:{p37}) | {int((alt > 0).sum())} | {int(alt.sum())} | "
                  f"{alt.sum() / (2 * len(x)):.4f} | {raw} |")
        reference_difference_concordance(args.panel, kb)


def reference_difference_concordance(panel: Path, kb: Path) -> None:
    """At the positions where the reference changed between builds, the two raw panel files compared base by base
    with pysam (not through the pipeline): how often the same person has the same bases on both builds."""
    import pysam

    bm = pd.read_parquet(kb / "build_map.parquet").query("status == 'lifted, reference differs'")
    bm = bm.drop_duplicates("position")

    def bases(path: Path, chrom: str, pos: int) -> dict[str, tuple]:
        out = {}
        with pysam.VariantFile(str(path)) as vcf:
            for r in vcf.fetch(chrom, pos - 1, pos):
                if r.pos == pos and len(r.ref) == 1:
                    alleles = [r.ref, *r.alts]
                    for s in r.samples:
                        out.setdefault(s, tuple(sorted(alleles[i] for i in r.samples[s]["GT"] if i is not None)))
        return out

    print("\n## Reference-difference positions, raw panels compared base by base (pysam)\n")
    print("| gene | GRCh38 position (REF) | GRCh37 position (REF) | people in both | same bases |\n|---|---|---|---|---|")
    for r in bm.itertuples():
        f37, f38 = panel / "GRCh37" / f"{r.gene}.vcf.gz", panel / "GRCh38" / f"{r.gene}.vcf.gz"
        if not (f37.exists() and f38.exists()):
            print(f"| {r.gene} | {r.position} ({r.ref}) | {int(r.grch37_position)} ({r.grch37_ref}) | GRCh38 file absent | |")
            continue
        a = bases(f37, r.grch37_chromosome.removeprefix("chr"), int(r.grch37_position))
        b = bases(f38, r.chromosome, int(r.position))
        common = sorted(set(a) & set(b))
        same = sum(a[s] == b[s] for s in common)
        print(f"| {r.gene} | {r.position} ({r.ref}) | {int(r.grch37_position)} ({r.grch37_ref}) | {len(common):,} | "
              f"{same:,} ({same / max(len(common), 1) * 100:.2f}%) |")


if __name__ == "__main__":
    main()
