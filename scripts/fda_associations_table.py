"""Write docs/FDA_ASSOCIATIONS.md: every row of the FDA Table of Pharmacogenetic Associations with its mapping.

    python scripts/fda_associations_table.py [--kb results/knowledge] [--out docs/FDA_ASSOCIATIONS.md]

Without --kb the knowledge base is built in a temporary folder from config/config.yaml's sources and FDA file (the
mapping is checked against the knowledge base's phenotypes and alleles, so it needs them).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from pgx_pipeline import schema
from pgx_pipeline.knowledge.build import build_knowledge_base
from pgx_pipeline.knowledge.fda import markdown

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", type=Path, help="a built knowledge base folder (with fda_associations.parquet)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "FDA_ASSOCIATIONS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = args.kb
        if kb is None:
            cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["knowledge"]
            kb = Path(tmp)
            build_knowledge_base([REPO / s["path"] for s in cfg["sources"]], kb,
                                 fda_associations=REPO / cfg["fda_associations"])
        table = schema.read_table(kb / "fda_associations.parquet", schema.KB_FDA_ASSOCIATIONS)
        args.out.write_text(markdown(table), encoding="utf-8")
    print(f"{len(table)} rows -> {args.out}")


if __name__ == "__main__":
    main()
