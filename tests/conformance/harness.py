"""Run PharmCAT's own test expectations (tests/conformance/pharmcat_cases.yaml) through our ingestion and calling.

The VCF builder here follows what PharmCAT's TestVcfBuilder writes for a test, read from PharmCAT's own allele
definitions in ../shared (never from our knowledge base, so a position our knowledge base drops is still in the
VCF): for each gene of a case, one record per definition position (and per exemptions.json extra position), REF
and the documented ALTs as in the definition, genotype `0/0` (`0` on chrX for a male) unless the case edits it;
an edit names CPIC alleles, mapped to VCF alleles through the definition's `cpicToVcfAlleleMap`; an edit of
`null` leaves the record out (missing). Static PharmCAT test VCFs are replayed from their records. Each case is
its own single-sample VCF, ingested on its own, except the rows of a PharmCAT data sheet (DpydTest.hapB3: 214
runs), written as one multi-sample VCF per sheet and mode, one sample per row, to keep the suite fast; the
ingested genotypes of all cases are then called together (one sample id per case), so the gene models load once.

How PharmCAT's expectations are compared with our calls table (rules, not relaxations):

- R1 A diplotype is a set of two allele names (PharmCAT sorts them by its own comparator; we by ours), and the
  candidates of a call are a set; `Unknown/Unknown` (PharmCAT's UNKNOWN_CALL) means "not called": we must
  report no diplotype.
- R2 PharmCAT's test helpers strip " (homozygous)" before comparing; so do we, except in DPYD/RYR1 unphased
  variant lists, where "X (homozygous)" is two copies of X.
- R3 "X (heterozygous)" is PharmCAT's print style for "Reference/X".
- R4 Suballeles are named by their core allele on both sides (`*45.001` -> `*45`), our documented format.
- R5 NamedAlleleMatcher*Test cases run with topCandidateOnly=false list every diplotype consistent with the
  genotype, best score first; we report only the top-scoring ones. There our candidates must all be in
  PharmCAT's list and include its first entry; with topCandidateOnly=true (and in the pipeline tests, which
  report top candidates) the sets must be equal.
- R6 DPYD/RYR1 with unphased data: PharmCAT reports the list of variants found (one entry each, "(homozygous)" =
  two copies). Ours may be one row per entry or one value joined by " AND " (PharmCAT's calls-only TSV format);
  the multisets of variants must be equal. A phased call is one diplotype string per R1, where a combination
  "[a + b]" (variants in cis) is compared as the set of its variants.
- R8 SLCO1B1 (PharmCAT's custom caller): where the matcher makes no call (source Unknown/Unknown) but the report
  prints the rs4149056 genotype (testPrintCalls, e.g. "rs4149056 C/rs4149056 T"), our calls table, which is
  report-level, must show that printed genotype.
- R7 Where a pipeline test only asserts testCalledByMatcher for a gene (no diplotype), we must call the gene.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from pgx_pipeline import schema
from pgx_pipeline.calling.call import call_genotypes, load_gene_models
from pgx_pipeline.ingest.vcf import ingest_vcf
from pgx_pipeline.testing.synthetic import CHROM_ORDER, GRCH38_LENGTHS

HERE = Path(__file__).resolve().parent
CASES = HERE / "pharmcat_cases.yaml"
MANUAL_CASES = HERE / "pharmcat_cases_manual.yaml"
KNOWN = HERE / "known_failures.yaml"
SUMMARY = HERE / "conformance_summary.tsv"
UNKNOWN = "Unknown/Unknown"
LOWEST_FUNCTION = {"DPYD", "RYR1"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 19k-line case file 5x faster


def read_yaml(path: Path):
    return yaml.load(path.read_text(), Loader=_LOADER)


def load_cases() -> dict:
    """The extracted cases plus the hand-written ones (NamedAlleleMatcherTest on real definitions)."""
    doc = read_yaml(CASES)
    doc["cases"] = doc["cases"] + read_yaml(MANUAL_CASES)["cases"]
    ids = [c["id"] for c in doc["cases"]]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate case ids: {sorted(dup)}")
    return doc


def load_known() -> dict[str, dict]:
    """case id -> {point, reason}: cases that fail today, each naming the issue-17 point (or NEW) that covers it."""
    doc = read_yaml(KNOWN) or {}
    return {k: v for k, v in doc.get("failures", {}).items()}


# ------------------------------------------------------------------------------------------------ VCF builder
class Definitions:
    """PharmCAT's allele definition files (positions, REF/ALTs, CPIC -> VCF allele map) and extra positions."""

    def __init__(self, pharmcat_dir: Path):
        self.dir = pharmcat_dir / "definition" / "alleles"
        self._genes: dict[str, dict] = {}
        self.exemptions = json.loads((self.dir / "exemptions.json").read_text())

    def gene(self, gene: str) -> dict:
        if gene not in self._genes:
            self._genes[gene] = json.loads((self.dir / f"{gene}_translation.json").read_text())
        return self._genes[gene]

    def loci(self, gene: str) -> list[dict]:
        extra = (self.exemptions.get(gene) or {}).get("extraPositions") or []
        return list(self.gene(gene)["variants"]) + list(extra)


def _gt(case: dict, edit: dict, locus: dict, alts: list[str]) -> str:
    sep = "|" if edit.get("phased", case.get("phased", False)) else "/"
    out = []
    for cpic in edit["alleles"]:
        if cpic == ".":
            out.append(".")
            continue
        vcf = locus["cpicToVcfAlleleMap"].get(cpic)
        if vcf is None:
            if not case.get("allow_unknown_allele"):
                raise ValueError(f"{case['id']}: {cpic!r} is not an allele of {locus.get('rsid')}")
            vcf = cpic
            if vcf not in alts:
                alts.append(vcf)
        out.append("0" if vcf == locus["ref"] else str(alts.index(vcf) + 1))
    return sep.join(out)


def vcf_lines(case: dict, defs: Definitions) -> list[str]:
    """Data lines (CHROM POS ID REF ALT QUAL FILTER INFO FORMAT SAMPLE) for one case."""
    if "records" in case:
        rows = []
        for r in case["records"]:
            chrom, pos, rid, ref, alt, gt = r.split(" ")
            fmt, val = ("GT:PS", gt.replace(":", ":")) if ":" in gt else ("GT", gt)
            rows.append((chrom, int(pos), "\t".join([chrom, pos, rid, ref, alt, ".", "PASS", ".", fmt, val])))
        return [r for *_, r in sorted(rows, key=lambda x: (CHROM_ORDER.index(x[0]), x[1]))]
    edits_by_gene: dict[str, dict[str, dict]] = {}
    for e in case.get("edits", []):
        edits_by_gene.setdefault(e["gene"], {})[e["id"]] = e
    lines = []
    for gene in case["genes"]:
        d = defs.gene(gene)
        chrom = d["chromosome"]
        edits = edits_by_gene.get(gene, {})
        used = set()
        for locus in defs.loci(gene):
            key = locus.get("rsid") if locus.get("rsid") in edits else f"{chrom}:{locus['position']}"
            edit = edits.get(key)
            alts = list(locus["alts"])
            ps = None
            if edit is None or edit.get("alleles") == "ref":
                if chrom == "chrX" and case.get("sex") == "male":
                    gt = "0"
                else:
                    gt = "0|0" if case.get("phased") else "0/0"
                ref = locus["ref"]
            elif "gt" in edit:
                gt, ref, alts = edit["gt"], edit["ref"], list(edit["alts"])
            elif edit["alleles"] is None:
                used.add(key)
                continue  # missing: no record
            else:
                gt, ref = _gt(case, edit, locus, alts), locus["ref"]
                ps = edit.get("phase_set")
            if edit is not None:
                used.add(key)
            fmt, val = ("GT:PS", f"{gt}:{ps}") if ps is not None else ("GT", gt)
            lines.append((chrom, int(locus["position"]), "\t".join(
                [chrom, str(locus["position"]), locus.get("rsid") or ".", ref, ",".join(alts) or ".", ".", "PASS",
                 f"PX={gene}", fmt, val])))
        unused = set(edits) - used
        if unused:
            raise ValueError(f"{case['id']}: {sorted(unused)} are not {gene} definition positions")
    return [r for *_, r in sorted(lines, key=lambda x: (CHROM_ORDER.index(x[0]), x[1]))]


def write_case_vcf(path: Path, case: dict, defs: Definitions, sample: str) -> Path:
    header = ["##fileformat=VCFv4.2", "##source=tests/conformance (from PharmCAT test specification)"]
    header += [f"##contig=<ID={c},length={GRCH38_LENGTHS[c]}>" for c in CHROM_ORDER]
    header += ['##INFO=<ID=PX,Number=.,Type=String,Description="PharmCAT gene">',
               '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
               '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">',
               "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample])]
    path.write_text("\n".join(header + vcf_lines(case, defs)) + "\n")
    return path


def write_batch_vcf(path: Path, cases: list[dict], defs: Definitions, samples: list[str]) -> Path:
    """Several cases of one data sheet as one multi-sample VCF (one sample per case, records merged by position):
    each case's records are exactly those its single-sample VCF has; a record another case lacks (missing) is
    written `./.` for it, which our ingestion reads as missing exactly like an absent record."""
    per_case = []
    for case in cases:
        recs = {}
        for line in vcf_lines(case, defs):
            f = line.split("\t")
            vocab = [f[3], *f[4].split(",")]
            sep = "|" if "|" in f[9] else "/"
            recs[(f[0], int(f[1]))] = (f, [None if a == "." else vocab[int(a)] for a in re.split(r"[/|]", f[9])], sep)
        per_case.append(recs)
    keys = sorted({k for r in per_case for k in r}, key=lambda k: (CHROM_ORDER.index(k[0]), k[1]))
    lines = []
    for key in keys:
        present = [r[key] for r in per_case if key in r]
        f0 = present[0][0]
        if any(p[0][8] != "GT" or p[0][3] != f0[3] for p in present):
            raise ValueError(f"{key}: batched cases need GT-only records with one REF")
        alts = []
        for p in present:
            alts += [a for a in p[0][4].split(",") if a not in alts and a != "."]
        vocab = [f0[3], *alts]
        gts = []
        for r in per_case:
            if key not in r:
                gts.append("./.")
                continue
            _, alleles, sep = r[key]
            gts.append(sep.join("." if a is None else str(vocab.index(a)) for a in alleles))
        lines.append("\t".join([*f0[:4], ",".join(alts) or ".", *f0[5:9], *gts]))
    header = ["##fileformat=VCFv4.2", "##source=tests/conformance (PharmCAT test sheet, one sample per row)"]
    header += [f"##contig=<ID={c},length={GRCH38_LENGTHS[c]}>" for c in CHROM_ORDER]
    header += ['##INFO=<ID=PX,Number=.,Type=String,Description="PharmCAT gene">',
               '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
               "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples])]
    path.write_text("\n".join(header + lines) + "\n")
    return path


# ------------------------------------------------------------------------------------------------ running
def _gene_kb(kb_dir: Path, genes: tuple[str, ...], work: Path, memo: dict) -> Path:
    """The definition tables restricted to a case's genes: ingestion then reads only those genes' sites (the same
    rows, so the same genotypes), which keeps a whole run of single-sample inputs fast."""
    if genes not in memo:
        out = work / ("kb_" + "_".join(genes))
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (("genes", schema.KB_GENES), ("positions", schema.KB_POSITIONS), ("alleles", schema.KB_ALLELES)):
            df = schema.read_table(kb_dir / f"{name}.parquet", table)
            schema.write_table(df[df["gene"].isin(genes)], out / f"{name}.parquet", table)
        memo[genes] = out
    return memo[genes]


def run_all(cases: list[dict], defs: Definitions, kb_dir: Path, work: Path) -> pd.DataFrame:
    """Calls table of every case (sample_id = case id); each case ingested from its own single-sample VCF."""
    genos, samples, memo = [], [], {}
    batches: dict[str, list[dict]] = {}
    for case in cases:
        if case.get("batch"):
            batches.setdefault(case["batch"], []).append(case)
    for k, (name, group) in enumerate(sorted(batches.items())):
        d = work / f"b{k:03d}"
        d.mkdir(parents=True, exist_ok=True)
        ids = [f"S{j:03d}" for j in range(len(group))]
        vcf = write_batch_vcf(d / "batch.vcf", group, defs, ids)
        genes = tuple(sorted({g for c in group for g in c["expect"]}))
        res = ingest_vcf(vcf, _gene_kb(kb_dir, genes, work, memo), d, input_id=f"b{k:03d}")
        g = schema.read_table(res.genotypes, schema.GENOTYPES)
        s = schema.read_table(res.samples, schema.SAMPLES)
        rename = dict(zip(ids, (c["id"] for c in group)))
        g["sample_id"] = g["sample_id"].astype(str).map(rename)
        s["sample_id"] = s["sample_id"].astype(str).map(rename)
        genos.append(g)
        samples.append(s)
    for k, case in enumerate(c for c in cases if not c.get("batch")):
        d = work / f"c{k:03d}"
        d.mkdir(parents=True, exist_ok=True)
        sample = "S"
        vcf = write_case_vcf(d / "case.vcf", case, defs, sample)
        sex = {sample: case.get("sex", "female")} if any(
            defs.gene(g)["chromosome"] == "chrX" for g in case_genes(case, defs)) else None
        genes = tuple(sorted(g for g in case_genes(case, defs) if g in set(gene_checks(case)) | set(case["expect"])))
        res = ingest_vcf(vcf, _gene_kb(kb_dir, genes, work, memo), d, input_id=f"c{k:03d}", sample_sex=sex)
        g = schema.read_table(res.genotypes, schema.GENOTYPES)
        s = schema.read_table(res.samples, schema.SAMPLES)
        g["sample_id"] = case["id"]
        s["sample_id"] = case["id"]
        genos.append(g)
        samples.append(s)
    models = load_gene_models(kb_dir)
    return call_genotypes(pd.concat(genos, ignore_index=True), pd.concat(samples, ignore_index=True), models)


def case_genes(case: dict, defs: Definitions) -> list[str]:
    if "genes" in case:
        return case["genes"]
    chroms = {r.split(" ")[0] for r in case["records"]}
    return [g for g in case["expect"] if defs.gene(g)["chromosome"] in chroms]


# ------------------------------------------------------------------------------------------------ comparing
def core(name: str) -> str:
    """R4: PharmVar suballele -> core allele (`*45.001` -> `*45`), inside combinations too."""
    return re.sub(r"(\*\d+[A-Z]?)\.\d{3}\b", r"\1", name)


def norm_allele(name: str) -> str:
    """R1: a combination '[a + b]' (variants in cis) is the set of its variants, whatever order they are listed in."""
    name = core(name.strip())
    if name.startswith("[") and name.endswith("]"):
        return "[" + " + ".join(sorted(p.strip() for p in name[1:-1].split(" + "))) + "]"
    return name


def norm_dip(text: str) -> frozenset:
    text = core(text.removesuffix(" (homozygous)"))
    if text.endswith(" (heterozygous)"):  # R3
        parts = ["Reference", text.removesuffix(" (heterozygous)")]
    else:
        parts = _split_dip(text)
    return frozenset(Counter(norm_allele(p) for p in parts).items())


def _split_dip(text: str) -> list[str]:
    """'a/b' -> [a, b]; '/' inside [x + y] combinations or inside names like 'B (reference)' never splits."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "/" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out]


@dataclass
class Outcome:
    ok: bool
    expected: str
    got: str
    rule: str


def expectation(case: dict, gene: str) -> tuple[str, list[str]]:
    e = case["expect"][gene]
    if e.get("source") == [UNKNOWN] and e.get("print") and e["print"] != ["Not called"]:  # R8
        return "print", list(e["print"])
    for kind in ("matcher", "source", "print"):
        if kind in e:
            return kind, list(e[kind])
    if e.get("called"):
        return "called", []
    raise KeyError(gene)


def compare(case: dict, gene: str, calls: pd.DataFrame) -> Outcome:
    kind, exp = expectation(case, gene)
    rows = calls[(calls["sample_id"] == case["id"]) & (calls["gene"] == gene)]
    got = [d for d in rows["diplotype"] if isinstance(d, str)]
    got_txt = " | ".join(got) if got else "(no call)"
    exp_txt = " | ".join(exp)
    exp = [f"Reference/{x.removesuffix(' (heterozygous)')}" if x.endswith(" (heterozygous)") else x for x in exp]  # R3
    if kind == "called":  # R7: PharmCAT only asserts that its matcher called the gene
        return Outcome(bool(got), "(called)", got_txt, "R7 called")
    if not exp or exp == [UNKNOWN] or exp == ["Not called"]:
        return Outcome(not got, exp_txt, got_txt, "R1 no call")
    if gene in LOWEST_FUNCTION and len(exp) >= 1 and all("/" not in x for x in exp):
        # R6: unphased variant list (or a haploid-style single entry)
        want = Counter()
        for x in exp:
            name = core(x)
            if name.endswith(" (homozygous)"):
                want[name.removesuffix(" (homozygous)")] += 2
            else:
                want[name] += 1
        have = Counter()
        for x in (e for g in got for e in g.split(" AND ")):
            name = core(x)
            if name.endswith(" (homozygous)"):
                have[name.removesuffix(" (homozygous)")] += 2
            else:
                have[name] += 1
        return Outcome(want == have, exp_txt, got_txt, "R6 variant list")
    want = [norm_dip(x) for x in exp]
    have = {norm_dip(x) for x in got}
    if not case.get("top_only", True):
        ok = bool(have) and have <= set(want) and want[0] in have
        return Outcome(ok, exp_txt, got_txt, "R5 all matches")
    return Outcome(have == set(want) and len(got) == len(set(want)), exp_txt, got_txt, "R1 top candidates")


def gene_checks(case: dict) -> list[str]:
    """Genes of a case whose expectation we compare (CYP2D6 only where PharmCAT was asked to call it)."""
    genes = list(case["expect"])
    if not case.get("call_cyp2d6", True) and "CYP2D6" in genes and "records" not in case:
        genes.remove("CYP2D6")
    return genes


def test_class(case_id: str) -> str:
    """PharmCAT test class of a case; a data sheet's rows count as their own line (`DpydTest.hapB3`)."""
    cls, _, method = case_id.partition(".")
    return f"{cls}.{method.split('[')[0]}" if "[" in method else cls


def summarise(cases: list[dict], outcomes: dict[tuple[str, str], Outcome], known: dict[str, dict],
              not_ported: list[dict]) -> pd.DataFrame:
    """Per PharmCAT test class and per gene: checks, pass, and failures by issue-17 point."""
    rows = []
    for case in cases:
        for gene in gene_checks(case):
            o = outcomes[(case["id"], gene)]
            k = known.get(f"{case['id']}::{gene}")
            rows.append({"test_class": test_class(case["id"]), "gene": gene, "pass": o.ok,
                         "point": k["point"] if k and not o.ok else ("UNEXPLAINED" if not o.ok else "")})
    df = pd.DataFrame(rows)
    out = []
    for by in ("test_class", "gene"):
        for key, grp in df.groupby(by, sort=True):
            pts = Counter(p for p in grp["point"] if p)
            np_ = sum(1 for x in not_ported if test_class(x["id"]) == key) if by == "test_class" else ""
            out.append({"by": by, "name": key, "cases": len(grp), "pass": int(grp["pass"].sum()),
                        "xfail": int((~grp["pass"]).sum()),
                        "xfail_points": ", ".join(f"{p}={n}" for p, n in sorted(pts.items())) or "-",
                        "not_ported_tests": np_})
    pts = Counter(p for p in df["point"] if p)
    out.append({"by": "total", "name": "all", "cases": len(df), "pass": int(df["pass"].sum()),
                "xfail": int((~df["pass"]).sum()),
                "xfail_points": ", ".join(f"{p}={n}" for p, n in sorted(pts.items())) or "-",
                "not_ported_tests": len(not_ported)})
    return pd.DataFrame(out)
