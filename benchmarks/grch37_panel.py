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
        shared = sorted(set(a.index.get_level_values(1)) & set(b.index.get_level_values(1)))
        both = a[["diplotype"]].join(b[["diplotype"]], lsuffix="37", rsuffix="38", how="inner")
        both = both[both.index.get_level_values(1).isin(shared)]
        same = (both.diplotype37.fillna("no call") == both.diplotype38.fillna("no call"))
        g37 = pd.read_parquet(tmp / "g37" / "genotypes.parquet",
                              columns=["sample_id", "gene", "position", "state", "allele1", "allele2", "vcf_ref"])
        g38 = pd.read_parquet(tmp / "g38" / "genotypes.parquet",
                              columns=["sample_id", "gene", "position", "state", "allele1", "allele2", "vcf_ref"])
        diff = both[~same].reset_index()
        g = g37.merge(g38[g38.sample_id.isin(diff.sample_id)], on=["sample_id", "gene", "position"],
                      suffixes=("37", "38"))
        g = g.merge(diff[key], on=key)
        norm = lambda x, y: tuple(sorted([str(x), str(y)]))  # noqa: E731
        g["gt37"] = [norm(x, y) for x, y in zip(g.allele137, g.allele237)]
        g["gt38"] = [norm(x, y) for x, y in zip(g.allele138, g.allele238)]
        dpos = g[g.gt37 != g.gt38]

        def why(r) -> str:
            d = dpos[(dpos.sample_id == r.sample_id) & (dpos.gene == r.gene)]
            if d.empty:
                return "same genotypes at every defining position: phasing differs between the panels"
            parts = []
            for x in d.itertuples():
                src = ("no GRCh37 record" if pd.isna(x.vcf_ref37) else
                       "no GRCh38 record" if pd.isna(x.vcf_ref38) else "both panels have a record")
                parts.append(f"{x.position}: {src}")
            kinds = {p.split(": ")[1] for p in parts}
            return "genotype differs at a defining position (" + "; ".join(sorted(kinds)) + ")"

        diff["explanation"] = [why(r) for r in diff.itertuples()]
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
        print("\nPositions behind the differences (sample-gene pairs per position and which panel lacks a record):\n")
        print("| gene | GRCh38 position | pairs | no GRCh37 record | no GRCh38 record | both have records |\n"
              "|---|---|---|---|---|---|")
        for (gene, pos), grp in dpos.groupby(["gene", "position"]):
            print(f"| {gene} | {pos} | {len(grp)} | {int(grp.vcf_ref37.isna().sum())} | "
                  f"{int(grp.vcf_ref38.isna().sum())} | {int((grp.vcf_ref37.notna() & grp.vcf_ref38.notna()).sum())} |")
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
            ph = ph[ph.gene == "DPYD"]
            col = "phenotype" if "phenotype" in ph else ph.columns[2]
            print("\n| DPYD phenotype | people |\n|---|---|")
            for k, v in ph[col].fillna("none").value_counts().items():
                print(f"| {k} | {v} |")
        variants = {97450058: "c.1905+1G>A (rs3918290, *2A)", 97082391: "c.2846A>T (rs67376798)",
                    97515787: "c.1679T>G (rs55886062, *13)", 97573863: "c.1236G>A (rs56038477, HapB3)",
                    97579893: "c.1129-5923C>G (rs75017182, HapB3)"}
        gd = g37[(g37.gene == "DPYD") & (g37.position.isin(variants))]
        print("\n| variant (GRCh38 position) | carriers | allele count | allele frequency, 2,504 people |\n|---|---|---|---|")
        for pos, name in variants.items():
            x = gd[gd.position == pos]
            if x.empty:
                print(f"| {name} ({pos}) | not a definition position | | |")
                continue
            ref = pd.read_parquet(kb / "positions.parquet").query("gene == 'DPYD' and position == @pos").ref.iloc[0]
            alt = (x.allele1 != ref).astype(int) + (x.allele2 != ref).astype(int)
            print(f"| {name} ({pos}) | {int((alt > 0).sum())} | {int(alt.sum())} | {alt.sum() / (2 * len(x)):.4f} |")


if __name__ == "__main__":
    main()
