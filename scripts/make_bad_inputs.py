#!/usr/bin/env python3
"""Write the bad/odd-input corpus used by tests/robustness (tests/data/bad_inputs/).

Every file is small, hand-made and deterministic (BGZF headers carry no time stamp), so rerunning the script
gives byte-identical files.  `expected.tsv` lists each entry: the file, what it is, the stage that reads it,
the expected outcome (`error` = one clear message and exit 2 under --strict; `warning` = a result plus a
message; `ok` = the correct result) and a substring of the message or of the call summary.

Genotypes are written at the 35 CYP2C19 allele-defining positions (GRCh38, PharmCAT definitions), so the
correct result of a good file is known without running the pipeline: the reference sample is *1/*2.

    python scripts/make_bad_inputs.py [--out tests/data/bad_inputs]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[1]

# CYP2C19 allele-defining positions (GRCh38 POS, REF, ALT) in definition order.
CYP2C19 = [
    (94761900, "C", "T"), (94762706, "A", "G"), (94762712, "C", "T"), (94762715, "T", "C"),
    (94762755, "T", "C"), (94762760, "A", "C"), (94762788, "A", "T"), (94762856, "A", "G"),
    (94775106, "C", "T"), (94775121, "C", "T"), (94775160, "G", "C"), (94775185, "A", "G"),
    (94775367, "A", "G"), (94775416, "T", "C"), (94775423, "A", "C"), (94775453, "G", "A"),
    (94775489, "G", "A"), (94775507, "G", "A"), (94780544, "A", "G"), (94780574, "G", "C"),
    (94780579, "G", "A"), (94780653, "G", "A"), (94781858, "C", "T"), (94781859, "G", "A"),
    (94781944, "G", "A"), (94781999, "T", "A"), (94842861, "G", "A"), (94842866, "A", "G"),
    (94842879, "G", "A"), (94842995, "G", "A"), (94849995, "C", "T"), (94852738, "C", "T"),
    (94852765, "C", "T"), (94852785, "C", "G"), (94852914, "A", "C"),
]
STAR1_POS = 94842866  # rs3758581: *1 carries G (the reference allele *38 carries A)
STAR2_POS = 94781859  # rs4244285 (c.681G>A), defines *2 with rs12769205
STAR2_LINKED = 94775367  # rs12769205
STAR17_POS = 94761900  # rs12248560
GRCH37_OFFSET = 1_759_757  # CYP2C19 region: GRCh37 POS = GRCh38 POS + this
CHR10_GRCH38 = 133797422
CHR10_GRCH37 = 135534747

STAR1_STAR2 = {STAR1_POS: "1/1", STAR2_POS: "0/1", STAR2_LINKED: "0/1"}  # *1/*2, unphased

FORMAT_LINES = [
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
]


def header(samples: list[str], *, contig: str | None = "chr10", length: int = CHR10_GRCH38,
           extra: list[str] = (), formats: list[str] = FORMAT_LINES) -> list[str]:
    lines = ["##fileformat=VCFv4.2"]
    if contig:
        lines.append(f"##contig=<ID={contig},length={length}>")
    lines += [*formats, *extra]
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    lines.append("\t".join(cols))
    return lines


def cyp2c19_records(genotypes: dict[int, str] | list[dict[int, str]], *, chrom: str = "chr10", shift: int = 0,
                    default: str = "0/0", skip: set[int] = frozenset(), replace: dict[int, str] | None = None) -> list[str]:
    """One record per CYP2C19 position; `genotypes` maps POS to GT (a list = one dict per sample)."""
    per_sample = genotypes if isinstance(genotypes, list) else [genotypes]
    out = []
    for pos, ref, alt in CYP2C19:
        if pos in skip:
            continue
        if replace and pos in replace:
            out.append(replace[pos])
            continue
        gts = [g.get(pos, default) for g in per_sample]
        out.append("\t".join([chrom, str(pos + shift), ".", ref, alt, "50", "PASS", ".", "GT", *gts]))
    return out


def text(lines: list[str], eol: str = "\n") -> str:
    return eol.join(lines) + eol


def bgzip(dest: Path, content: str, *, index: bool = False) -> Path:
    plain = dest.with_name(dest.name.removesuffix(".gz") + ".tmp.vcf")
    plain.write_text(content)
    pysam.tabix_compress(str(plain), str(dest), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(dest), preset="vcf", force=True)
    return dest


def gvcf_lines() -> list[str]:
    """A gVCF: reference blocks (END=) over most positions, one variant record, one no-call block."""
    lines = header(["GVCF1"], extra=[
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the reference block">',
        '##ALT=<ID=NON_REF,Description="Any allele other than REF">',
    ])
    recs = []
    # blocks start before the first position; variant records at the *1/*2 positions split them
    recs.append(("chr10", 94761850, "A", "<NON_REF>", "END=94775366", "0/0"))
    recs.append(("chr10", STAR2_LINKED, "A", "G,<NON_REF>", ".", "0/1"))
    recs.append(("chr10", STAR2_LINKED + 1, "T", "<NON_REF>", "END=94781858", "0/0"))
    recs.append(("chr10", STAR2_POS, "G", "A,<NON_REF>", ".", "0/1"))
    recs.append(("chr10", STAR2_POS + 1, "T", "<NON_REF>", "END=94842865", "0/0"))
    recs.append(("chr10", STAR1_POS, "A", "G,<NON_REF>", ".", "1/1"))
    recs.append(("chr10", STAR1_POS + 1, "C", "<NON_REF>", "END=94852800", "0/0"))
    recs.append(("chr10", 94852801, "G", "<NON_REF>", "END=94853000", "./."))  # no coverage: must stay missing
    lines += ["\t".join([c, str(p), ".", r, a, "50", "PASS", info, "GT", gt]) for c, p, r, a, info, gt in recs]
    return lines


def build(out: Path) -> list[tuple[str, str, str, str, str]]:
    """Write the corpus; return the expected.tsv rows (file, what, stage, outcome, message)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows: list[tuple[str, str, str, str, str]] = []

    def add(name: str, what: str, stage: str, outcome: str, message: str) -> None:
        assert (out / name).exists(), name
        rows.append((name, what, stage, outcome, message))

    good = text(header(["GOOD1"]) + cyp2c19_records(STAR1_STAR2))

    # --- files that are not (readable) VCFs
    (out / "not_a_vcf.vcf").write_text("Patient: J. Doe\nCYP2C19 *1/*2 (from the lab letter)\n")
    add("not_a_vcf.vcf", "free text with a .vcf name", "ingest", "error", "not a readable VCF")
    (out / "empty.vcf.gz").write_bytes(b"")
    add("empty.vcf.gz", "0-byte file", "ingest", "error", "file is empty (0 bytes)")
    full = bgzip(out / "truncated.vcf.gz.full", good)
    data = full.read_bytes()
    (out / "truncated.vcf.gz").write_bytes(data[: len(data) - 40])
    full.unlink()
    add("truncated.vcf.gz", "BGZF file cut short (copy interrupted)", "ingest", "error", "BGZF end-of-file marker missing")
    (out / "truncated_gzip.vcf.gz").write_bytes(gzip.compress(good.encode() * 20, mtime=0)[:-30])
    add("truncated_gzip.vcf.gz", "plain gzip (not BGZF) cut short", "ingest", "error", "gzip stream is truncated")
    (out / "plain_text.vcf.gz").write_text(good.replace("GOOD1", "PLAIN1"))
    add("plain_text.vcf.gz", "uncompressed VCF named .vcf.gz", "ingest", "ok", "CYP2C19 *1/*2 called")

    # --- compression and index
    bgzip(out / "no_index.vcf.gz", good.replace("GOOD1", "NOIDX1"))
    add("no_index.vcf.gz", "BGZF without .tbi/.csi (streamed)", "ingest", "ok", "CYP2C19 *1/*2 called")
    older = text(header(["STALE1"]) + cyp2c19_records(STAR1_STAR2)[:5])
    bgzip(out / "stale_index.vcf.gz", older, index=True)  # index of an older, shorter version ...
    idx = (out / "stale_index.vcf.gz.tbi").read_bytes()
    bgzip(out / "stale_index.vcf.gz", good.replace("GOOD1", "STALE1"))  # ... then the file is rewritten
    (out / "stale_index.vcf.gz.tbi").write_bytes(idx)
    add("stale_index.vcf.gz", "index older than the VCF (the test sets the mtimes: git does not keep them)",
        "ingest", "warning", "index is older than the file")
    bgzip(out / "indexed.vcf.gz", good.replace("GOOD1", "IDX1"), index=True)
    add("indexed.vcf.gz", "BGZF with a current .tbi (region queries)", "ingest", "ok", "CYP2C19 *1/*2 called")

    # --- header problems
    sites = header([]) + [ln.rsplit("\t", 2)[0] for ln in cyp2c19_records(STAR1_STAR2)]
    (out / "no_samples.vcf").write_text(text(sites))
    add("no_samples.vcf", "sites-only VCF (header without samples)", "ingest", "error", "names no samples")
    nogt = text(header(["NOGT1"], formats=FORMAT_LINES[1:]) +
                [ln.rsplit("\t", 2)[0] + "\tDP\t30" for ln in cyp2c19_records(STAR1_STAR2)])
    (out / "no_gt.vcf").write_text(nogt)
    add("no_gt.vcf", "FORMAT has DP only, no GT", "ingest", "error", "declares no FORMAT/GT")
    (out / "duplicate_samples.vcf").write_text(text(header(["DUP1", "DUP2", "DUP1"]) +
                                                    cyp2c19_records([STAR1_STAR2] * 3)))
    add("duplicate_samples.vcf", "the same sample id twice in #CHROM", "ingest", "error", "duplicate sample id(s) ['DUP1']")
    odd = ["John Smith", "a/b", "../../etc/x", "Zoë-日本語", "<script>alert(1)</script>", ".hidden"]
    (out / "odd_sample_ids.vcf").write_text(text(header(odd) + cyp2c19_records([STAR1_STAR2] * len(odd))))
    add("odd_sample_ids.vcf", "sample ids with spaces, '/', '..', unicode, HTML, leading dot", "ingest", "ok",
        "<script>alert(1)</script> CYP2C19 *1/*2 called")
    crlf = good.replace("GOOD1", "CRLF1").replace("\n", "\r\n")
    (out / "crlf.vcf").write_bytes(crlf.encode())
    add("crlf.vcf", "Windows CRLF line ends", "ingest", "ok", "CYP2C19 *1/*2 called")

    # --- genotype shapes
    hap = text(header(["HAP1"]) + cyp2c19_records({STAR1_POS: "1", STAR2_POS: "1", STAR2_LINKED: "1"}, default="0"))
    (out / "haploid_autosome.vcf").write_text(hap)
    add("haploid_autosome.vcf", "haploid GT ('1') on autosomal CYP2C19", "ingest", "warning",
        "haploid genotype(s) on autosomal CYP2C19")
    poly = text(header(["POLY1"]) + cyp2c19_records({**STAR1_STAR2, STAR2_POS: "0/0/1"}))
    (out / "polyploid.vcf").write_text(poly)
    add("polyploid.vcf", "triploid GT (0/0/1) at rs4244285", "ingest", "warning",
        "polyploid genotype(s) in CYP2C19")
    half = text(header(["HALF1", "HALF2"]) +
                cyp2c19_records([{**STAR1_STAR2, STAR2_POS: "0/."}, {**STAR1_STAR2, STAR2_POS: "./1"}]))
    (out / "half_calls.vcf").write_text(half)
    add("half_calls.vcf", "half calls 0/. and ./1 at rs4244285", "ingest", "warning",
        "HALF1 CYP2C19 *1/*2 called: 1 allele-defining position(s) missing")
    multi = cyp2c19_records(
        [STAR1_STAR2, {**STAR1_STAR2, STAR2_POS: "1/2"}, {**STAR1_STAR2, STAR2_POS: "0/3"}, {**STAR1_STAR2, STAR2_POS: "1/4"}],
        replace={STAR2_POS: "\t".join(["chr10", str(STAR2_POS), ".", "G", "A,*,<DEL>,<NON_REF>", "50", "PASS", ".", "GT",
                                       "0/1", "1/2", "0/3", "1/4"])},
    )
    (out / "multiallelic_symbolic.vcf").write_text(text(header(["MULTI1", "MULTI2", "MULTI3", "MULTI4"],
                                                               extra=['##ALT=<ID=DEL,Description="Deletion">',
                                                                      '##ALT=<ID=NON_REF,Description="Other">']) + multi))
    add("multiallelic_symbolic.vcf", "ALT A,*,<DEL>,<NON_REF> at rs4244285 (0/1, 1/2, 0/3, 1/4)", "ingest", "warning",
        "MULTI2 CYP2C19 - not_called: undocumented variant at 94781859")
    (out / "gvcf_blocks.g.vcf").write_text(text(gvcf_lines()))
    add("gvcf_blocks.g.vcf", "gVCF: 0/0 reference blocks (END=) cover the defining positions, one ./. block", "ingest",
        "warning", "GVCF1 CYP2C19 *1/*2 called: 1 allele-defining position(s) missing")

    # --- build and contig names
    wrong_ref = {STAR17_POS: "\t".join(["chr10", str(STAR17_POS), ".", "G", "T", "50", "PASS", ".", "GT", "0/0"])}
    (out / "ref_mismatch.vcf").write_text(text(header(["REFX1"]) + cyp2c19_records(STAR1_STAR2, replace=wrong_ref)))
    add("ref_mismatch.vcf", "REF at rs12248560 is G, the definitions say C", "ingest", "warning",
        "REF differs from the allele definitions at 1 position(s)")
    b37 = text(header(["B37A"], contig=None) + cyp2c19_records(STAR1_STAR2, shift=GRCH37_OFFSET))
    (out / "grch37_as_grch38.vcf").write_text(b37)
    add("grch37_as_grch38.vcf", "GRCh37 coordinates, no contig lines, no build in the header", "ingest", "warning",
        "read as GRCh37 (records: REF matches GRCh37")
    (out / "grch37_contig_length.vcf").write_text(
        text(header(["B37B"], length=CHR10_GRCH37) + cyp2c19_records(STAR1_STAR2, shift=GRCH37_OFFSET)))
    add("grch37_contig_length.vcf", "GRCh37 chr10 length in ##contig", "ingest", "warning",
        "read as GRCh37 (header: contig chr10 length 135,534,747)")
    (out / "grch37_reference_line.vcf").write_text(
        text(header(["B37C"], extra=["##reference=file:///ref/hs37d5.fa"]) + cyp2c19_records(STAR1_STAR2)))
    add("grch37_reference_line.vcf", "##reference names hs37d5, GRCh38 contig lengths", "ingest", "error",
        "the header names both builds (GRCh38: contig chr10 length")
    for contig in ("10", "chr10", "NC_000010.11"):
        name = f"contig_{contig.replace('.', '_')}.vcf"
        (out / name).write_text(text(header([f"CTG_{contig}"], contig=contig) + cyp2c19_records(STAR1_STAR2, chrom=contig)))
        add(name, f"contig named {contig}", "ingest", "ok", "CYP2C19 *1/*2 called")

    # --- sample sheet, outside calls, covariates
    (out / "sheet_missing_vcf.tsv").write_text("sample_id\tvcf\tsex\nGOOD1\tdoes_not_exist.vcf.gz\tfemale\n")
    add("sheet_missing_vcf.tsv", "sample sheet whose vcf column names a missing file", "sheet", "error",
        "line 2: vcf file 'does_not_exist.vcf.gz' for sample 'GOOD1' does not exist")
    (out / "outside_malformed.tsv").write_text(
        "sample_id\tgene\tdiplotype\tphenotype\tactivity_score\n"
        "GOOD1\tcyp 2d6\t*1/*4\t\t\n"
        "GOOD1\tCYP2D6\t*1/*4/*5\t\t\n"
        "GOOD1\tCYP2C9\t*1/*2\t\tnormal-ish\n"
        "GOOD1\tTPMT\n"
        "GOOD1\tCYP2C19\t*1/*2\t\t\n"
    )
    add("outside_malformed.tsv", "outside-call table: bad gene, 3 alleles, non-numeric score, empty row", "outside",
        "warning", "CYP2D6 - not_called: outside_malformed.tsv:3: CYP2D6 diplotype '*1/*4/*5' is malformed")
    (out / "outside_conflict.tsv").write_text("CYP2C19\t*17/*17\n")
    add("outside_conflict.tsv", "per-sample outside call *17/*17 where the VCF says *1/*2", "outside", "warning",
        "they DISAGREE")
    (out / "covariates_absurd.tsv").write_text(
        "sample_id\tsex\tage\theight_cm\tweight_kg\trace\tamiodarone\tenzyme_inducer\n"
        "GOOD1\tfemale\t300\t170\t0\tWhite\t0\t0\n"
    )
    add("covariates_absurd.tsv", "warfarin covariates age 300, weight 0", "covariates", "warning",
        "implausible: age=300 years")
    (out / "good.vcf").write_text(good)
    add("good.vcf", "control: a clean *1/*2 sample", "ingest", "ok", "GOOD1 CYP2C19 *1/*2 called")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "bad_inputs")
    args = parser.parse_args()
    rows = build(args.out)
    with (args.out / "expected.tsv").open("w", encoding="utf-8") as fh:
        fh.write("file\twhat\tstage\toutcome\tmessage\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    print(f"{len(rows)} entries in {args.out}")


if __name__ == "__main__":
    main()
