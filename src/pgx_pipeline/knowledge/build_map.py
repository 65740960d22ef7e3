"""The build map: every GRCh38 allele-defining position lifted once to GRCh37, so GRCh37 inputs can be called.

Lifting uses the UCSC liftOver chain (hg38ToHg19) read by `pyliftover`. A position lifts cleanly when every base
of its REF maps to exactly one place, all on the same chromosome and strand, contiguous; anything else is listed
with the reason and is missing on every GRCh37 input. A chain maps coordinates, not bases: where the reference
genome itself changed between builds (a GRCh37 0/0 is then a GRCh38 variant), the GRCh37 base comes from
`grch37_reference_differences.tsv`, made from the 1000 Genomes panels on both builds
(scripts/find_build_differences.py).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd

from .. import schema
from ..errors import PgxInputError

DIFFERENCES_FILE = Path(__file__).with_name("grch37_reference_differences.tsv")
COMPLEMENT = str.maketrans("ACGTacgtN", "TGCAtgcaN")


def reverse_complement(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def read_differences(path: str | Path = DIFFERENCES_FILE) -> pd.DataFrame:
    """chromosome, position (GRCh38), ref (GRCh38), grch37_ref (on GRCh38's strand), evidence."""
    return pd.read_csv(path, sep="\t", comment="#", dtype={"position": "int64"})


def lift_positions(positions: pd.DataFrame, chain: str | Path,
                   differences: pd.DataFrame | None = None) -> pd.DataFrame:
    """The kb_build_map table for `positions` (kb_positions), lifted with the GRCh38->GRCh37 chain file."""
    from pyliftover import LiftOver

    chain = Path(chain)
    if not chain.is_file():
        raise PgxInputError("GRCh38->GRCh37 liftOver chain not found; set knowledge.grch37_chain (or --grch37-chain) "
                            "to hg38ToHg19.over.chain.gz, or leave it empty (GRCh37 inputs will then fail)", path=chain)
    lifter = LiftOver(_chains_over(chain, positions))
    diffs = differences if differences is not None else read_differences()
    diff_at = {(r.chromosome, int(r.position)): r for r in diffs.itertuples()}
    rows = []
    for r in positions.sort_values(["gene", "position_index"]).itertuples():
        row = {"gene": r.gene, "position_index": int(r.position_index), "chromosome": r.chromosome,
               "position": int(r.position), "ref": r.ref, "grch37_chromosome": None, "grch37_position": None,
               "grch37_strand": None, "grch37_ref": None, "status": "not lifted", "reason": None}
        lifted, why = _lift_span(lifter, r.chromosome, int(r.position), len(r.ref))
        diff = diff_at.get((r.chromosome, int(r.position)))
        if lifted is None:
            row["reason"] = why
        elif lifted[2] == "-" and not _is_snv(r.ref, r.alts):
            # An indel's VCF position is its left-aligned form on the + strand; on the other strand the same event
            # left-aligns elsewhere, which a chain cannot tell without the GRCh37 sequence.
            row["reason"] = "an indel on a strand the chain reverses: its left-aligned GRCh37 position is unknown"
        elif diff is not None and (diff.ref != r.ref or not _is_snv(r.ref, r.alts)):
            row["reason"] = (f"the reference differs between builds ({diff.evidence}) at a position that is not a "
                             "single-base definition: cannot be translated base by base")
        else:
            row.update(grch37_chromosome=lifted[0], grch37_position=lifted[1], grch37_strand=lifted[2],
                       grch37_ref=r.ref, status="lifted")
            if diff is not None:
                row.update(grch37_ref=diff.grch37_ref, status="lifted, reference differs", reason=diff.evidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=schema.KB_BUILD_MAP.column_names)


def _chains_over(chain: Path, positions: pd.DataFrame) -> io.BytesIO:
    """The chains of the file whose GRCh38 span overlaps a gene's allele-defining positions, as a chain file.

    A base lifts only through the chains that hold it, so the others change nothing; leaving them out makes reading
    the chain ~0.3 s instead of ~5.5 s (pyliftover indexes every chain of the genome it is given)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for (chrom, _), g in positions.groupby(["chromosome", "gene"]):
        ends = g["position"].astype(int) + g["ref"].str.len()
        spans.setdefault(str(chrom), []).append((int(g["position"].min()) - 1, int(ends.max())))
    kept = io.BytesIO()
    with gzip.open(chain, "rb") if chain.suffix == ".gz" else open(chain, "rb") as fh:
        keep = False
        for line in fh:
            if line.startswith(b"chain"):
                # chain score tName tSize tStrand tStart tEnd ...: the GRCh38 (target) span, + strand
                f = line.split()
                start, end = int(f[5]), int(f[6])
                keep = any(start < e and s < end for s, e in spans.get(f[2].decode(), ()))
            if keep:
                kept.write(line)
    kept.seek(0)
    return kept


def _is_snv(ref: str, alts) -> bool:
    return len(ref) == 1 and all(len(a) == 1 for a in alts)


def _lift_span(lifter, chrom: str, pos: int, length: int) -> tuple[tuple[str, int, str] | None, str | None]:
    """(GRCh37 chromosome, 1-based leftmost GRCh37 position of the REF span, strand), or (None, why)."""
    hits = []
    for k in range(length):
        found = lifter.convert_coordinate(chrom, pos - 1 + k)  # chains are 0-based
        if not found:
            return None, (f"base {pos + k} is in no GRCh38->GRCh37 chain block (absent from GRCh37 or in a gap)"
                          if length > 1 else "in no GRCh38->GRCh37 chain block (absent from GRCh37 or in a gap)")
        if len(found) > 1:
            return None, f"maps to {len(found)} places on GRCh37"
        hits.append(found[0])
    chroms = {h[0] for h in hits}
    strands = {h[2] for h in hits}
    if chroms != {chrom}:
        return None, f"maps to another chromosome on GRCh37 ({', '.join(sorted(chroms))})"
    if len(strands) > 1:
        return None, "its bases map to both strands of GRCh37"
    strand = hits[0][2]
    step = 1 if strand == "+" else -1
    if any(hits[k + 1][1] - hits[k][1] != step for k in range(len(hits) - 1)):
        return None, "its REF bases are not contiguous on GRCh37 (a chain gap inside the allele)"
    first = min(h[1] for h in hits) + 1
    return (chrom, first, strand), None


def empty_build_map() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in schema.KB_BUILD_MAP.column_names})
