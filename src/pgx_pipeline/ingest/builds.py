"""Genome build of an input (stated, from the header, from the records) and reading a GRCh37 input on GRCh38.

A GRCh37 input is read through the knowledge base's build map (pgx_pipeline.knowledge.build_map): gene regions are
queried at their GRCh37 coordinates, and each record is handed to the GRCh38 reader as the record it would be on
GRCh38: position translated, alleles reverse-complemented where the chain maps to the minus strand, and where the
reference base changed between builds, REF rewritten to the GRCh38 base with the genotype indexes remapped (a GRCh37
0/0 there is homozygous for GRCh37's base, a GRCh38 variant). Positions that do not lift are missing, never
reference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import PgxInputError
from ..knowledge.build_map import reverse_complement

BUILDS = ("GRCh38", "GRCh37")

# Primary-assembly lengths of the chromosomes carrying pharmacogenes; every one differs between the builds.
LENGTHS = {
    "GRCh38": {"chr1": 248956422, "chr2": 242193529, "chr4": 190214555, "chr6": 170805979, "chr7": 159345973,
               "chr8": 145138636, "chr10": 133797422, "chr12": 133275309, "chr13": 114364328, "chr16": 90338345,
               "chr19": 58617616, "chr22": 50818468, "chrX": 156040895},
    "GRCh37": {"chr1": 249250621, "chr2": 243199373, "chr4": 191154276, "chr6": 171115067, "chr7": 159138663,
               "chr8": 146364022, "chr10": 135534747, "chr12": 133851895, "chr13": 115169878, "chr16": 90354753,
               "chr19": 59128983, "chr22": 51304566, "chrX": 155270560},
}
# RefSeq accessions of those chromosomes on GRCh37 (the knowledge base names the GRCh38 ones).
GRCH37_REFSEQ = {"chr1": "NC_000001.10", "chr2": "NC_000002.11", "chr4": "NC_000004.11", "chr6": "NC_000006.11",
                 "chr7": "NC_000007.13", "chr8": "NC_000008.10", "chr10": "NC_000010.10", "chr12": "NC_000012.11",
                 "chr13": "NC_000013.10", "chr16": "NC_000016.9", "chr19": "NC_000019.9", "chr22": "NC_000022.10",
                 "chrX": "NC_000023.10"}
# Substrings of ##reference / ##assembly / contig assembly= values naming a build.
TAGS = {"GRCh37": ("grch37", "hg19", "b37", "hs37", "g1k_v37", "human_g1k"),
        "GRCh38": ("grch38", "hg38", "hs38", "b38")}
UNSUPPORTED_TAGS = ("hg18", "ncbi36", "b36", "hs36", "hg17", "ncbi35")
# Records at definition positions read to tell the builds apart, at most: enough for a clear majority.
RECORD_EVIDENCE = 20
# ... or this many for one build and none for the other (REF matching by chance at the other build's positions is
# rare: the positions differ and a random base matches one time in four).
DECISIVE = 5


@dataclass
class InputBuild:
    name: str  # GRCh38 | GRCh37
    evidence: str
    lifted: "LiftedReader | None" = None


def normalise_build(stated: str | None) -> str | None:
    if stated is None or str(stated).lower() in ("", "auto"):
        return None
    for b in BUILDS:
        if str(stated).lower() in (b.lower(), {"GRCh38": "hg38", "GRCh37": "hg19"}[b]):
            return b
    raise PgxInputError(f"unknown genome build {stated!r}; use GRCh38, GRCh37 or auto")


def header_build(header: str, path: Path) -> tuple[str | None, str]:
    """(build, evidence) from contig lengths, ##reference and assembly tags; (None, '') when the header is silent."""
    found: dict[str, list[str]] = {}
    for line in header.splitlines():
        low = line.lower()
        if line.startswith("##contig=<"):
            fields = dict(kv.split("=", 1) for kv in line[len("##contig=<"):].rstrip(">").split(",") if "=" in kv)
            name, length = fields.get("ID", ""), fields.get("length", "")
            kb = "chr" + name.removeprefix("chr") if not name.startswith("NC_") else None
            for b, lengths in LENGTHS.items():
                if kb in lengths and length.isdigit() and int(length) == lengths[kb]:
                    found.setdefault(b, []).append(f"contig {name} length {int(length):,}")
            low = fields.get("assembly", "").lower()
        elif not (line.startswith("##reference=") or line.startswith("##assembly=")):
            continue
        if any(t in low for t in UNSUPPORTED_TAGS):
            raise PgxInputError(f"the header names a build older than GRCh37 ({line.strip()[:120]}); lift the file to "
                                "GRCh38 or GRCh37 first", path=path)
        for b, tags in TAGS.items():
            if low and any(t in low for t in tags):
                found.setdefault(b, []).append(line.strip()[:80])
    if len(found) > 1:
        raise PgxInputError("the header names both builds (" + "; ".join(f"{b}: {v[0]}" for b, v in found.items())
                            + "); fix the header (bcftools reheader) or state the build with --build", path=path)
    if not found:
        return None, ""
    (b, lines), = found.items()
    return b, f"header: {lines[0]}" + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")


@dataclass
class DefinitionSites:
    """Where each build puts the definition positions, and the REF it has there: what records are judged by."""

    expect: dict[tuple[str, int], list[tuple[str, str]]]  # (KB contig, position) -> [(build, REF)]
    windows: dict[str, list[tuple[int, int]]]  # KB contig -> gene-sized (start, end) windows holding positions

    @classmethod
    def from_tables(cls, positions: pd.DataFrame, build_map: pd.DataFrame) -> "DefinitionSites":
        expect: dict[tuple[str, int], list[tuple[str, str]]] = {}
        defining = positions[positions["position_index"] >= 0]
        for chrom, pos, ref in zip(defining["chromosome"], defining["position"].astype(int), defining["ref"]):
            expect.setdefault((chrom, pos), []).append(("GRCh38", ref))
        lifted = build_map[build_map["grch37_position"].notna()]
        for chrom, pos, ref, strand in zip(lifted["grch37_chromosome"], lifted["grch37_position"].astype(int),
                                           lifted["grch37_ref"], lifted["grch37_strand"]):
            expect.setdefault((chrom, pos), []).append(("GRCh37", ref if strand == "+" else reverse_complement(ref)))
        windows: dict[str, list[tuple[int, int]]] = {}
        by_chrom: dict[str, list[int]] = {}
        for chrom, pos in expect:
            by_chrom.setdefault(chrom, []).append(pos)
        for chrom, pos in by_chrom.items():
            # One query per gene-sized window: definition positions more than 1 Mb apart are separate windows.
            pos_sorted = np.sort(np.array(pos, dtype=np.int64))
            cuts = np.flatnonzero(np.diff(pos_sorted) > 1_000_000) + 1
            windows[chrom] = [(int(w[0]), int(w[-1])) for w in np.split(pos_sorted, cuts)]
        return cls(expect, windows)


def records_build(vcf, sites: DefinitionSites, indexed: bool, vcf_names: dict[str, set[str]],
                  path: Path | None = None, decisive: int = DECISIVE) -> tuple[str | None, str]:
    """(build, evidence) from REF bases at definition positions of each build; (None, '') when no record lands on one
    or neither build has a clear majority.

    `vcf_names`: KB contig -> the names this file may use for it. A record at a GRCh38 definition position whose REF
    is the definition's REF counts for GRCh38; one at a lifted position whose REF is GRCh37's base there, for GRCh37.
    Reading stops once the evidence is decisive: `decisive` hits for one build and none for the other (a split
    group's later files need fewer: the group's build is known, each file only has to agree with it).
    """
    expect = sites.expect
    alias = {name: kb for kb, names in vcf_names.items() for name in names}
    hits = {b: 0 for b in BUILDS}
    seen: set[tuple[str, int]] = set()

    def count(records) -> bool:
        try:
            for rec in records:
                key = (alias.get(rec.CHROM), rec.POS)
                if key in seen or key not in expect:
                    continue
                seen.add(key)
                for b, ref in expect[key]:
                    hits[b] += rec.REF.startswith(ref) or ref.startswith(rec.REF)
                if sum(hits.values()) >= RECORD_EVIDENCE or min(hits.values()) == 0 and max(hits.values()) >= decisive:
                    return True
        except Exception:  # a record htslib cannot parse: the reading pass reports it with the file; judge what came before
            return True
        return False

    if indexed:
        query, present = _region_reader(vcf, path)
        queries = [(name, start, end) for chrom, wins in sites.windows.items() for start, end in wins
                   for name in vcf_names.get(chrom, ()) if name in present]
        for name, start, end in queries:
            if count(query(name, start, end)):
                break
    else:
        count(vcf)
    total = sum(hits.values())
    if total == 0:
        return None, ""
    best = max(BUILDS, key=lambda b: hits[b])
    other = BUILDS[1 - BUILDS.index(best)]
    if hits[best] <= 2 * hits[other]:
        return None, ""  # no clear majority: say nothing rather than guess
    return best, (f"records: REF matches {best} at {hits[best]} definition position(s), {other} at {hits[other]}")


class _Fields:
    """CHROM, POS and REF of a VCF text line, without parsing its genotypes."""

    __slots__ = ("CHROM", "POS", "REF")

    def __init__(self, line: str) -> None:
        chrom, pos, _, ref, _ = line.split("\t", 4)
        self.CHROM, self.POS, self.REF = chrom, int(pos), ref


def _region_reader(vcf, path: Path | None):
    """(query(name, start, end) -> records, contig names) for an indexed file. A bgzipped text VCF is read as raw
    lines through its index (pysam.TabixFile): a 3,202-sample record is then not parsed just to read its REF; a BCF
    (or a file tabix cannot open) is queried with cyvcf2."""
    if path is not None:
        try:
            import pysam

            tabix = pysam.TabixFile(str(path))
            contigs = set(tabix.contigs)

            def raw(name: str, start: int, end: int):
                return (_Fields(line) for line in tabix.fetch(name, start - 1, end))

            return raw, contigs
        except (OSError, ValueError):
            pass

    def parsed(name: str, start: int, end: int):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no intervals found")
            return list(vcf(f"{name}:{start}-{end}"))

    return parsed, set(vcf.seqnames)


def resolve_build(stated: str | None, header: tuple[str | None, str], records: tuple[str | None, str],
                  path: Path) -> tuple[str, str]:
    """The input's build and how it is known; an error naming both sides when two sources disagree."""
    stated = normalise_build(stated)
    sources = [(f"stated {stated}", stated)] if stated else []
    sources += [(ev, b) for b, ev in (header, records) if b]
    for i, (ev_a, a) in enumerate(sources):
        for ev_b, b in sources[i + 1:]:
            if a != b:
                raise PgxInputError(
                    f"genome build: {ev_a} says {a}, but {ev_b} says {b}; the file is not what it claims. State the "
                    "build that matches the records (--build / inputs[].build) or fix the header", path=path)
    if stated:
        return stated, f"stated ({stated})"
    if sources:
        return sources[0][1], sources[0][0]
    return "GRCh38", "default (no build in the header and no record at a definition position of either build)"


def read_build_map(kb_dir: Path) -> pd.DataFrame:
    path = kb_dir / "build_map.parquet"
    if not path.is_file():
        return pd.DataFrame({c: [] for c in schema.KB_BUILD_MAP.column_names})
    return schema.read_table(path, schema.KB_BUILD_MAP)


class _Lifted:
    """A GRCh37 record as the GRCh38 reader sees it: same FILTER, INFO and FORMAT; translated POS/REF/ALT/GT."""

    __slots__ = ("_rec", "CHROM", "POS", "REF", "ALT", "end", "ref_mismatch", "_perm", "reference_base_at")

    def __init__(self, rec, chrom, pos, ref, alts, end, perm=None, ref_mismatch=False, reference_base_at=None):
        self._rec, self.CHROM, self.POS, self.REF, self.ALT, self.end = rec, chrom, pos, ref, alts, end
        self._perm, self.ref_mismatch, self.reference_base_at = perm, ref_mismatch, reference_base_at

    def __getattr__(self, name):
        return getattr(self._rec, name)

    @property
    def genotype(self):
        return self

    def array(self) -> np.ndarray:
        gt = self._rec.genotype.array()
        if self._perm is None:
            return gt
        out = gt.copy()
        alleles = gt[:, :-1]
        ok = (alleles >= 0) & (alleles < len(self._perm))
        out[:, :-1][ok] = self._perm[alleles[ok]]
        return out


@dataclass
class LiftedReader:
    """Reads a GRCh37 input through the build map rows of the knowledge base's genes."""

    build_map: pd.DataFrame
    sites: dict = field(init=False)
    anchors: dict = field(init=False)
    grch37_base: dict = field(init=False)

    def __post_init__(self) -> None:
        lifted = self.build_map[self.build_map["grch37_position"].notna()]
        changed = lifted[lifted["grch37_ref"] != lifted["ref"]]
        self.grch37_base = dict(zip(changed["position"].astype(int), changed["grch37_ref"]))
        self.sites = {}
        for r in lifted.itertuples():
            self.sites.setdefault((r.chromosome, int(r.grch37_position)),
                                  (int(r.position), r.grch37_strand, r.grch37_ref, r.ref))
        # Per contig, sorted GRCh37 positions of lifted sites with their GRCh38 position and strand: a record between
        # definition positions is placed by its nearest one (it only decides which gene region it falls in).
        self.anchors = {}
        for chrom, grp in lifted.drop_duplicates("grch37_position").sort_values("grch37_position").groupby("chromosome"):
            self.anchors[chrom] = (grp["grch37_position"].to_numpy(np.int64), grp["position"].to_numpy(np.int64),
                                   (grp["grch37_strand"] == "+").to_numpy())

    def region(self, gene: str) -> tuple[int, int] | None:
        rows = self.build_map[(self.build_map["gene"] == gene) & self.build_map["grch37_position"].notna()]
        if rows.empty:
            return None
        return int(rows["grch37_position"].min()), int(rows["grch37_position"].max())

    def _to38(self, chrom: str, pos: int) -> int:
        if chrom not in self.anchors:
            return pos
        p37, p38, plus = self.anchors[chrom]
        k = int(np.clip(np.searchsorted(p37, pos), 0, len(p37) - 1))
        if k > 0 and abs(p37[k - 1] - pos) < abs(p37[k] - pos):
            k -= 1
        return int(p38[k] + (pos - p37[k]) if plus[k] else p38[k] - (pos - p37[k]))

    def reference_base_at(self, position: int, default: str) -> str:
        """GRCh37's base at a GRCh38 definition position (what a GRCh37 gVCF reference block asserts there)."""
        return self.grch37_base.get(position, default)

    def wrap(self, records, to_kb):
        for rec in records:
            chrom = to_kb(rec.CHROM)
            site = self.sites.get((chrom, rec.POS))
            if site is None:
                pos38 = self._to38(chrom, rec.POS)
                yield _Lifted(rec, rec.CHROM, pos38, rec.REF, list(rec.ALT),
                              self._to38(chrom, rec.end) if rec.end > rec.POS else pos38,
                              reference_base_at=self.reference_base_at)
                continue
            pos38, strand, ref37, ref38 = site
            if strand == "+" and ref37 == ref38:
                yield _Lifted(rec, rec.CHROM, pos38, rec.REF, list(rec.ALT), pos38 + (rec.end - rec.POS),
                              reference_base_at=self.reference_base_at)
                continue
            yield self._rewrite(rec, pos38, strand, ref37, ref38)

    @staticmethod
    def _rewrite(rec, pos38: int, strand: str, ref37: str, ref38: str) -> _Lifted:
        """A record at a single-base site that is reverse-complemented or whose reference base changed: only the
        base at the position matters (padding and following bases are not part of an SNV definition)."""
        def base(a: str | None) -> str | None:
            if a is None or a in (".", "*") or a.startswith("<"):
                return a
            # On the minus strand a multi-base allele would start elsewhere after reverse-complementing: unknown.
            return a[0] if strand == "+" else (reverse_complement(a) if len(a) == 1 else None)
        alleles = [base(rec.REF)] + [base(a) for a in rec.ALT]
        if alleles[0] != ref37:
            # Not GRCh37's base here: a wrong build or another reference; read as a REF mismatch (missing).
            return _Lifted(rec, rec.CHROM, pos38, rec.REF, list(rec.ALT), pos38, ref_mismatch=True)
        order = [ref38]
        for a in alleles:
            if a not in order:
                order.append(a)
        perm = np.array([order.index(a) for a in alleles], dtype=np.int16)
        return _Lifted(rec, rec.CHROM, pos38, ref38, order[1:], pos38, perm=perm)

    def finish(self, mats: dict, covered: set[str], absent_is_reference: bool, codes) -> list[str]:
        """After reading: unlifted positions become missing; under absent-is-reference a position with no record
        where the builds differ is GRCh37's base (what a variant-only GRCh37 file leaves out). Returns the unlifted
        positions as 'GENE rsid (chr:pos GRCh38): reason'."""
        unlifted = []
        by_key = {(r.gene, int(r.position_index)): r for r in self.build_map.itertuples()}
        for gene, m in mats.items():
            for i, pos in enumerate(m["gene"].positions.itertuples()):
                row = by_key.get((gene, int(pos.position_index)))
                if row is None or pd.isna(row.grch37_position):
                    why = row.reason if row is not None else "not in the knowledge base's build map"
                    unlifted.append(f"{gene} {pos.rsid or ''} ({pos.chromosome}:{pos.position} GRCh38): {why}")
                    m["a1"][i], m["a2"][i] = codes.MISSING, codes.MISSING
                elif (absent_is_reference and gene in covered and row.grch37_ref != row.ref
                      and (m["a1"][i] == codes.UNSET).any()):
                    vocab = m["vocab"][i]
                    if row.grch37_ref not in vocab:
                        vocab.append(row.grch37_ref)
                    code = vocab.index(row.grch37_ref)
                    unset = m["a1"][i] == codes.UNSET
                    m["a1"][i][unset], m["a2"][i][unset] = code, code
                    m["phased"][i][unset] = True
        return unlifted


def vcf_aliases(kb_genes: pd.DataFrame) -> dict[str, set[str]]:
    """KB contig -> names a VCF may give it on either build (chr10, 10, NC_000010.11, NC_000010.10; X as 23)."""
    out: dict[str, set[str]] = {}
    for kb, refseq in kb_genes[["chromosome", "refseq_chromosome"]].drop_duplicates().itertuples(index=False):
        names = {kb, kb.removeprefix("chr"), GRCH37_REFSEQ.get(kb, "")} | ({refseq} if refseq else set())
        if kb == "chrX":
            names.add("23")
        out[kb] = {n for n in names if n}
    return out
