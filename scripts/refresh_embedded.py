"""Regenerate the knowledge base and models embedded in the package (src/pgx_pipeline/data/).

    python scripts/refresh_embedded.py [--source DIR ...] [--grch37-chain FILE] [--training-file XLSX] [--seed N]

Defaults: the pinned PharmCAT mirror and stale fallback in ../shared/pgx-sources (or a folder made by
`pgx-pipeline knowledge fetch`), the FDA table in ../shared/pgx-sources/fda-pgx-associations, the GRCh38->GRCh37
liftOver chain in ../shared/genome-builds (only the derived build_map table is embedded, never the chain), and the
IWPC workbook in ../shared/training. Runs exactly the commands a user
runs (`pgx-pipeline knowledge build`, `pgx-pipeline model train`) and replaces the shipped copies; the drift
guards (tests/knowledge/test_embedded.py, tests/model/test_embedded_model.py) then check them on every CI run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "pgx_pipeline" / "data"
SHARED = REPO.parent / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", action="append", help="knowledge mirror folder (repeat; first wins per file)")
    ap.add_argument("--fda-associations", default=str(SHARED / "pgx-sources/fda-pgx-associations/fda_pgx_associations.json"),
                    help="FDA Table of Pharmacogenetic Associations (JSON); empty string: none")
    ap.add_argument("--grch37-chain", default=str(SHARED / "genome-builds/hg38ToHg19.over.chain.gz"),
                    help="GRCh38->GRCh37 liftOver chain; empty string: no build map (GRCh37 inputs then fail)")
    ap.add_argument("--training-file", default=str(SHARED / "training/iwpc_warfarin/iwpc_warfarin_dev.xlsx"))
    ap.add_argument("--seed", type=int, default=20090219)
    ap.add_argument("--skip-model", action="store_true")
    args = ap.parse_args()
    sources = args.source or [str(SHARED / "pgx-sources/pharmcat"), str(SHARED / "pgx-sources/pharmcat-stale-fallback")]
    cli = [sys.executable, "-m", "pgx_pipeline.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        fda = ["--fda-associations", args.fda_associations] if args.fda_associations else []
        chain = ["--grch37-chain", args.grch37_chain] if args.grch37_chain else []
        subprocess.run([*cli, "knowledge", "build", *(a for s in sources for a in ("--source", s)), *fda, *chain,
                        "--out", str(kb)],
                       check=True, stdout=subprocess.DEVNULL)
        version = json.loads((kb / "provenance.json").read_text())["data_version"]
        shutil.rmtree(DATA / "knowledge", ignore_errors=True)
        shutil.copytree(kb, DATA / "knowledge" / version)
        print(f"knowledge base {version}: {sum(f.stat().st_size for f in kb.iterdir()):,} bytes", file=sys.stderr)
    if args.skip_model:
        return
    from pgx_pipeline.model.embedded import write_model_provenance

    out = DATA / "models" / "warfarin"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([*cli, "model", "train", "--drug", "warfarin", "--training-file", args.training_file,
                    "--seed", str(args.seed), "--out", str(out)], check=True)
    write_model_provenance("warfarin", out, args.training_file, args.seed)


if __name__ == "__main__":
    main()
