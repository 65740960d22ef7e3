"""What clinicians would see across a cohort: the report's label for every guideline row of the 3,202-sample panel.

    python benchmarks/guidance_labels.py [--panel DIR] [--drugs azathioprine,tacrolimus,...]

Builds the knowledge base, ingests and calls the GRCh38 1000 Genomes panel (as `panel_ingest_call.py` does), runs
the phenotype and guidance stages in process and labels each row with the report's rule
(`pgx_pipeline.report.context.row_priority`). Prints the label counts, how many drugs land in a patient's
"Act / Consider / Confirm genotype" summary, and per drug for --drugs. Nothing here is a test. Takes ~20 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pgx_pipeline import schema
from pgx_pipeline.guidance import match_guidance, reference_gene_keys
from pgx_pipeline.phenotype import assign_phenotypes
from pgx_pipeline.report.context import row_priority

sys.path.insert(0, str(Path(__file__).parent))
from panel_ingest_call import DEFAULT_PANEL, SOURCES  # noqa: E402

SUMMARY_LABELS = ("act", "consider", "confirm")


def panel_calls(panel: Path, tmp: Path, build_args: tuple[str, ...] = ()) -> tuple[Path, pd.DataFrame]:
    """Knowledge base (built with extra `build_args`) and the panel's calls, absent positions read as reference."""
    kb = tmp / "kb"
    cli = [sys.executable, "-m", "pgx_pipeline.cli"]
    subprocess.run([*cli, "knowledge", "build", *[a for s in SOURCES for a in ("--source", str(s))], *build_args,
                    "--out", str(kb)], check=True, stdout=subprocess.DEVNULL)
    genes = pd.read_parquet(kb / "genes.parquet").gene
    files = [panel / f"{g}.vcf.gz" for g in genes if (panel / f"{g}.vcf.gz").exists()]
    subprocess.run([*cli, "ingest", "--input-id", "panel", "--kb", str(kb), "--out-dir", str(tmp / "out"),
                    "--absent-is-reference", *[a for f in files for a in ("--vcf", str(f))]], check=True)
    subprocess.run([*cli, "call", "--genotypes", str(tmp / "out" / "genotypes.parquet"), "--samples",
                    str(tmp / "out" / "samples.parquet"), "--kb", str(kb), "--out", str(tmp / "calls.parquet")],
                   check=True)
    return kb, schema.read_table(tmp / "calls.parquet", schema.CALLS)


def labelled_guidance(kb: Path, calls: pd.DataFrame) -> pd.DataFrame:
    """Phenotype and guidance stages on `calls`, each row labelled as the report labels it."""
    read = lambda name, table: schema.read_table(kb / name, table)  # noqa: E731
    functions = read("allele_functions.parquet", schema.KB_ALLELE_FUNCTIONS)
    diplotypes = read("diplotype_phenotypes.parquet", schema.KB_DIPLOTYPE_PHENOTYPES)
    phenotypes = assign_phenotypes(calls, functions, diplotypes)
    reference = reference_gene_keys(read("genes.parquet", schema.KB_GENES), functions, diplotypes)
    g = match_guidance(phenotypes, read("guidance.parquet", schema.KB_GUIDANCE),
                       read("messages.parquet", schema.KB_MESSAGES), reference)
    g["label"] = [row_priority(r) for r in g.to_dict("records")]
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    ap.add_argument("--drugs", default="azathioprine,mercaptopurine,tacrolimus,atomoxetine,phenytoin")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb, calls = panel_calls(args.panel, Path(tmp))
        g = labelled_guidance(kb, calls)
    samples = g["sample_id"].nunique()
    print(f"{samples:,} samples, {len(g):,} guideline rows\n\n| label | rows |\n|---|---|")
    for label, n in g["label"].value_counts().items():
        print(f"| {label} | {n:,} |")
    flagged = g[g["label"].isin(SUMMARY_LABELS)].groupby("sample_id")["drug"].nunique()
    flagged = flagged.reindex(g["sample_id"].unique(), fill_value=0)
    print(f"\ndrugs in a patient's Act / Consider / Confirm summary: median {flagged.median():.0f}, "
          f"mean {flagged.mean():.1f}, max {flagged.max()}")
    print("\n| drug | source | label | rows | samples |\n|---|---|---|---|---|")
    wanted = g[g["drug"].isin(args.drugs.split(","))]
    for (drug, source, label), rows in wanted.groupby(["drug", "source", "label"]):
        print(f"| {drug} | {source} | {label} | {len(rows):,} | {rows['sample_id'].nunique():,} |")


if __name__ == "__main__":
    main()
