"""VCF/BCF ingestion: the genotype of every sample at every allele-defining position, as a Parquet table.

Reads with cyvcf2 (htslib): indexed files are queried per gene region, others are streamed once.
Arrays are (positions x samples), so cost grows with records, not with samples x records in Python.
A position with no record is `absent` (never silently reference); what absence means is the matcher's
decision, made per input.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema, sharding
from ..errors import PgxInputError
from . import builds
from .alleles import DefinitionSite, map_record_alleles, ref_consistent, strip_left_padding
from .contigs import ContigMap

# Codes in the (position x sample) allele matrices.
MISSING = -1  # './.' or an allele we cannot place
NOT_PRESENT = -2  # haploid: there is no second allele
UNSET = -3  # no record seen yet for this position
CONFLICT = -4  # two records put different ALTs on the same haplotype


class CODES:
    """The codes builds.LiftedReader.finish writes into the matrices."""

    MISSING = MISSING
    UNSET = UNSET

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
SAMPLE_CHUNK = 500
# Defining positions this close are read with one index query (fewer queries, few extra records between them).
CLUSTER_GAP = 1000


@dataclass
class GeneSites:
    gene: str
    kb_contig: str
    vcf_contig: str | None
    positions: pd.DataFrame  # kb_positions rows of this gene, defining ones, ordered by position_index
    sites: list[DefinitionSite] = field(default_factory=list)


@dataclass
class IngestResult:
    genotypes: Path
    samples: Path
    n_samples: int
    n_records_used: int
    notes: list[str]


def check_readable(path: Path) -> None:
    """Fail early, with one clear line, on files htslib would misread or half-read."""
    if not path.exists():
        raise PgxInputError("file not found; check the path or the sample sheet", path=path)
    if path.stat().st_size == 0:
        raise PgxInputError("file is empty (0 bytes); re-export the VCF", path=path)
    with path.open("rb") as fh:
        head = fh.read(18)
        if head[:2] == b"\x1f\x8b":
            is_bgzf = len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"
            if is_bgzf:
                fh.seek(-28, os.SEEK_END)
                if fh.read(28) != BGZF_EOF:
                    raise PgxInputError(
                        "BGZF end-of-file marker missing: the file is truncated; copy or export it again", path=path
                    )
            else:
                try:
                    with gzip.open(path, "rb") as gz:
                        while gz.read(1 << 20):
                            pass
                except (EOFError, OSError) as exc:
                    raise PgxInputError(f"gzip stream is truncated or corrupt ({exc}); re-export it", path=path) from exc


def open_vcf(path: Path):
    from cyvcf2 import VCF

    check_readable(path)
    try:
        vcf = VCF(str(path), gts012=False, lazy=True, strict_gt=False)
    except Exception as exc:  # cyvcf2 raises a bare Exception for a header htslib rejects
        dupes = _duplicate_samples_in_text_header(path)
        if dupes:
            raise PgxInputError(f"duplicate sample id(s) {dupes[:5]} in the header; rename them (bcftools reheader)", path=path) from exc
        raise PgxInputError(f"not a readable VCF/BCF ({exc}); check it is a VCF 4.x file", path=path) from exc
    samples = list(vcf.samples)
    if not samples:
        raise PgxInputError("the header names no samples (sites-only VCF); a genotype column is needed", path=path)
    dupes = sorted(name for name, n in Counter(samples).items() if n > 1)
    if dupes:
        raise PgxInputError(f"duplicate sample id(s) {dupes[:5]} in the header; rename them (bcftools reheader)", path=path)
    header = vcf.raw_header
    if "##FORMAT=<ID=GT," not in header:
        raise PgxInputError("the header declares no FORMAT/GT field: genotypes are required", path=path)
    return vcf, samples


HAPLOID_CONTIGS = ("chrX", "chrY", "chrM")


def _duplicate_samples_in_text_header(path: Path) -> list[str]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", errors="replace") as fh:
            for line in fh:
                if line.startswith("#CHROM"):
                    names = line.rstrip("\r\n").split("\t")[9:]
                    return sorted({n for n in names if names.count(n) > 1})
                if not line.startswith("#"):
                    break
    except (OSError, EOFError):
        return []
    return []


def _has_index(path: Path) -> bool:
    for suffix in (".tbi", ".csi"):
        idx = Path(str(path) + suffix)
        if idx.exists() and idx.stat().st_mtime >= path.stat().st_mtime - 1:
            return True
    return False


def _stale_index(path: Path) -> bool:
    return any(Path(str(path) + suffix).exists() for suffix in (".tbi", ".csi"))


def _gene_sites(kb_positions: pd.DataFrame, contigs: ContigMap) -> list[GeneSites]:
    # The definition sites are the knowledge base's, the contig names the file's: a batch reads many files against
    # one knowledge base, so the sites are built once per table (~0.4 s) and only the contig is looked up per file.
    key = id(kb_positions)
    if _SITES_CACHE.get("key") != key:
        out = []
        defining = kb_positions[kb_positions["position_index"] >= 0]
        for gene, rows in defining.groupby("gene", sort=True):
            rows = rows.sort_values("position_index").reset_index(drop=True)
            sites = [DefinitionSite(int(pos), ref, tuple(alts))
                     for pos, ref, alts in zip(rows["position"].tolist(), rows["ref"].tolist(), rows["alts"].tolist())]
            out.append(GeneSites(gene, rows["chromosome"].iloc[0], None, rows, sites))
        _SITES_CACHE.update(key=key, table=kb_positions, sites=out)
    return [dataclasses.replace(g, vcf_contig=contigs.vcf_name(g.kb_contig)) for g in _SITES_CACHE["sites"]]


# The last table's sites (the table is held too, so its id is not reused by another while cached).
_SITES_CACHE: dict = {}


def ingest_vcf(
    vcf_paths: str | os.PathLike | list[str | os.PathLike],
    kb_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    input_id: str,
    absent_is_reference: bool = False,
    sample_sex: dict[str, str] | None = None,
    gene_group: tuple[int, int] | None = None,
    n_parts: int | None = None,
    build: str | None = None,
) -> IngestResult:
    """Write `genotypes.parquet` and `samples.parquet` for one input into `out_dir`.

    An input is one VCF, or a declared split group: several VCFs holding the same samples split by chromosome or
    region (as labs often deliver them); records for one position found in several files are merged. A file of a
    split group that cannot be read is recorded (`failed_files`) and the genes it may hold are not assessed
    (`not_assessed_genes`); the other files are still read.
    With `gene_group=(k, n)` only group k's genes are read; with `n_parts` the samples are cut into that
    many parts, each written as `part-NNN.genotypes.parquet` / `part-NNN.samples.parquet` (see `sharding`).
    `build`: GRCh38, GRCh37 or None/'auto' (detected per file; see `builds`); a GRCh37 input is read through the
    knowledge base's build map.
    """
    paths = [Path(p) for p in (vcf_paths if isinstance(vcf_paths, (list, tuple)) else [vcf_paths])]
    kb_dir = Path(kb_dir)
    out_dir = Path(out_dir)
    kb_positions, kb_genes = _kb_tables(kb_dir)
    # The whole input must touch some gene's region, whichever group this job reads.
    every_gene, every_contig = kb_positions, kb_genes
    build_map = builds.read_build_map(kb_dir)
    input_build, build_errors = _input_build(paths, build, build_map, every_gene, every_contig)
    if gene_group is not None:
        k, n = gene_group
        mine = {g for g, grp in sharding.assign_gene_groups(kb_positions, n).items() if grp == k}
        kb_positions = kb_positions[kb_positions["gene"].isin(mine)]
        kb_genes = kb_genes[kb_genes["gene"].isin(mine)]
    notes: list[str] = []
    reader: _MatrixBuilder | None = None
    samples: list[str] = []
    mats: dict[str, dict] = {}
    seen_genes: set[str] = set()
    read_genes: set[str] = set()  # genes with a record in a file that was read to the end
    failed: list[tuple[Path, str, set[str]]] = []  # (file, reason, genes it had begun to give records in)
    for path in paths:
        if reader is not None:
            reader.current = set()
        try:
            vcf, file_samples = open_vcf(path)
            if reader is None:
                samples = file_samples
                reader = _MatrixBuilder(len(samples))
            elif file_samples != samples:
                raise PgxInputError(
                    f"holds samples {file_samples[:3]}... but the other files of this input hold {samples[:3]}...: "
                    "files declared as one split group must list the same samples in the same order; give them as "
                    "separate inputs instead",
                    path=path,
                )
            indexed = _has_index(path)
            if path in build_errors:
                raise build_errors[path]
            file_build = input_build
            contigs = ContigMap.from_header(vcf, every_contig, path, build=file_build.name)
            genes = _gene_sites(kb_positions, contigs)
            all_genes = genes if gene_group is None else _gene_sites(every_gene, contigs)
            if not mats:
                mats = {g.gene: reader.empty(g) for g in genes}
            if not indexed and _stale_index(path):
                notes.append(f"{path.name}: index is older than the file, so it was ignored and the file read in full; "
                             "re-index it (tabix -f -p vcf) to read only the gene regions")
            reader.read(vcf, path, genes, mats, contigs, indexed, all_genes, lifted=file_build.lifted)
            contigs.check_build(reader.n_ref_mismatch, reader.n_sites_seen, path, file_build.name, file_build.evidence)
            if not reader.touched and indexed:
                reader.touched = _indexed_regions_with_records(vcf, [g for g in all_genes if g.gene not in mats],
                                                               file_build.lifted)
        except PgxInputError as exc:
            if len(paths) == 1:
                raise
            # A declared split group: this file fails, the others are still read (see the not-assessed genes below).
            failed.append((path, _reason(exc), set(reader.current) if reader is not None else set()))
            continue
        seen_genes |= {g.gene for g in genes if g.vcf_contig is not None}
        read_genes |= reader.current
    if failed and len(failed) == len(paths):
        raise PgxInputError("every file of this split group failed: "
                            + "; ".join(f"{p.name}: {why}" for p, why, _ in failed))
    assert reader is not None
    if not reader.touched:
        raise PgxInputError(
            f"no record lies in any of the {every_gene['gene'].nunique()} pharmacogene regions on {input_build.name} "
            f"(build: {input_build.evidence}): the input holds other regions, has no records, or is on another build "
            "(state it: --build GRCh37 / GRCh38)",
            path=", ".join(str(p) for p in paths),
        )
    unlifted: list[str] = []
    if input_build.lifted is not None:
        unlifted = input_build.lifted.finish(mats, reader.covered, absent_is_reference, CODES)
        notes.insert(0, f"read as GRCh37 ({input_build.evidence}) and lifted to GRCh38 through the knowledge base's "
                        f"build map" + (f"; {len(unlifted)} position(s) could not be lifted and are missing" if unlifted
                                        else "; every allele-defining position lifted"))
    failed_files = [f"{p.name}: {why}" for p, why, _ in failed]
    not_assessed = _not_assessed_for_failures(sorted(kb_genes["gene"]), failed, read_genes)
    for p_, why, _ in failed:
        notes.append(f"{p_.name} failed: {why}; the other files of this input were read, and the genes only it "
                     "could cover are not assessed")
    skipped = sorted(set(kb_genes["gene"]) - seen_genes - set(not_assessed))
    notes.extend(f"no contig for {g} in the input: its positions are absent" for g in skipped)
    notes.extend(reader.warnings)
    notes.extend(reader.summary_notes(sorted(set(kb_genes["gene"]) - set(not_assessed)), input_build.name))
    for gene in not_assessed:
        # Partial records of a failed file must not reach the matcher: the gene is reported not assessed instead.
        reader.covered.discard(gene)

    names = ",".join(p.name for p in paths)
    meta = {"input_id": input_id, "source_file": names, "absent_is_reference": str(absent_is_reference)}
    sample_sex = sample_sex or {}
    samples_df = pd.DataFrame(
        {
            "sample_id": samples,
            "input_id": input_id,
            "source_file": names,
            "absent_is_reference": absent_is_reference,
            "sex": [sample_sex.get(s) for s in samples],
            "status": "ok",
            "error": None,
            "notes": [list(notes)] * len(samples),
            "failed_files": [list(failed_files)] * len(samples),
            "not_assessed_genes": [[f"{g}: {why}" for g, why in sorted(not_assessed.items())]] * len(samples),
            "input_build": input_build.name,
            "build_evidence": input_build.evidence,
            "unlifted_positions": [list(unlifted)] * len(samples),
        }
    )
    outputs = _output_paths(out_dir, n_parts)
    slices = sharding.part_slices(len(samples), len(outputs))
    for (geno_path, samples_path), part in zip(outputs, slices):
        _write_genotypes(geno_path, mats, samples, input_id, meta, reader.covered, part)
        schema.write_table(samples_df.iloc[part], samples_path, schema.SAMPLES, metadata=meta)
    return IngestResult(outputs[0][0], outputs[0][1], len(samples), reader.n_records_used, notes)


def _input_build(paths: list[Path], stated: str | None, build_map: pd.DataFrame, positions: pd.DataFrame,
                 kb_genes: pd.DataFrame) -> tuple[builds.InputBuild, dict[Path, PgxInputError]]:
    """The input's build, before any file is read: each file's stated, header and records evidence must agree
    (builds.resolve_build), and so must the files of a split group; a file with no evidence of its own (a chromosome
    file without a definition position) takes the group's. Returns the errors of files that cannot be judged, which
    the reading loop raises for that file (so a split group's other files are still read)."""
    found: dict[Path, tuple[str, str]] = {}
    errors: dict[Path, PgxInputError] = {}
    aliases = builds.vcf_aliases(kb_genes)
    sites = builds.DefinitionSites.from_tables(positions, build_map)
    for path in paths:
        try:
            vcf, _ = open_vcf(path)
            header = builds.header_build(vcf.raw_header, path)
            # Once a file of the group has shown its build, the others need only agree with it.
            decided = any(ev.startswith("records") for _, ev in found.values())
            records = builds.records_build(vcf, sites, _has_index(path), aliases, path,
                                           decisive=2 if decided else builds.DECISIVE)
            if header[0] or records[0] or builds.normalise_build(stated):
                found[path] = builds.resolve_build(stated, header, records, path)
        except PgxInputError as exc:
            errors[path] = exc
    if len({name for name, _ in found.values()}) > 1:
        shown = "; ".join(f"{p.name}: {name} ({ev})" for p, (name, ev) in found.items())
        raise PgxInputError(f"the files of this input are on different builds ({shown}); give each build as its own "
                            "input", path=", ".join(str(p) for p in paths))
    if found:
        name, evidence = next(iter(found.values()))
        if len(paths) > 1 and not builds.normalise_build(stated):
            evidence = f"{evidence} ({next(iter(found)).name})"
    else:
        name, evidence = builds.resolve_build(stated, (None, ""), (None, ""), paths[0])
    if name == "GRCh38":
        return builds.InputBuild(name, evidence), errors
    if build_map.empty:
        raise PgxInputError("is on GRCh37 but the knowledge base has no build map: build it with "
                            "knowledge.grch37_chain (--grch37-chain), or use the embedded knowledge base",
                            path=", ".join(str(p) for p in paths))
    return builds.InputBuild(name, evidence, builds.LiftedReader(build_map)), errors


def _kb_tables(kb_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positions and genes of a knowledge base, read once per process and folder (a batch ingests many files)."""
    stamp = tuple((kb_dir / f).stat().st_mtime_ns for f in ("positions.parquet", "genes.parquet"))
    if _KB_CACHE.get("key") != (str(kb_dir.resolve()), stamp):
        _KB_CACHE.update(key=(str(kb_dir.resolve()), stamp),
                         tables=(schema.read_table(kb_dir / "positions.parquet", schema.KB_POSITIONS),
                                 schema.read_table(kb_dir / "genes.parquet", schema.KB_GENES)))
    return _KB_CACHE["tables"]


_KB_CACHE: dict = {}


def ingest_batch(
    members: list[tuple[str, str | os.PathLike]],
    kb_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    absent_is_reference: bool = False,
    sample_sex: dict[str, dict[str, str]] | None = None,
    build: str | None = None,
) -> list[str]:
    """Ingest a batch of small inputs, (input id, VCF) each, in one process: one genotypes and one samples table
    (`part-000.*.parquet` in `out_dir`) holding every input, each row carrying its input id.

    Each file is read alone, as `ingest_vcf` reads an input, so memory follows the largest file, not the batch. A
    file that cannot be read fails that input's row with the reason and the file named; the others are read.
    Returns the notes and errors to log, each naming its input.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    geno_path, samples_path = _output_paths(out_dir, 1)[0]
    samples: list[pd.DataFrame] = []
    fd, tmp = schema.atomic_path(geno_path)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(dir=out_dir) as scratch, \
                pq.ParquetWriter(tmp, schema.GENOTYPES.arrow_schema.with_metadata(
                    {b"pgx_pipeline.table": schema.GENOTYPES.name.encode()}), compression="zstd") as writer:
            for k, (input_id, vcf) in enumerate(members):
                one = Path(scratch) / str(k)
                try:
                    result = ingest_vcf([vcf], kb_dir, one, input_id=input_id, absent_is_reference=absent_is_reference,
                                        sample_sex=(sample_sex or {}).get(input_id), build=build)
                    log.extend(f"{input_id}: warning: {note}" for note in result.notes)
                except Exception as exc:  # one bad file fails its own input only; htslib errors come in several types
                    why = str(exc) if isinstance(exc, PgxInputError) else f"{vcf}: could not be read ({exc})"
                    record_failed_input([str(vcf)], one, input_id=input_id, error=why)
                    log.append(f"{input_id}: error: {why} (input recorded as failed; the other inputs continue)")
                writer.write_table(pq.read_table(one / "genotypes.parquet").cast(writer.schema))
                samples.append(schema.read_table(one / "samples.parquet", schema.SAMPLES))
        os.replace(tmp, geno_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    schema.write_table(pd.concat(samples, ignore_index=True), samples_path, schema.SAMPLES,
                       metadata={"inputs": str(len(members))})
    return log


def _reason(exc: PgxInputError) -> str:
    """The error without its leading path (the caller names the file)."""
    text = str(exc)
    prefix = f"{exc.path}: " if exc.path is not None else ""
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def _not_assessed_for_failures(genes: list[str], failed: list[tuple[Path, str, set[str]]],
                               read_genes: set[str]) -> dict[str, str]:
    """gene -> 'not assessed: <file> failed: <reason>' for this job's genes a failed file may hold: genes no file that
    was read has a record in (the failed file may be the one that covers them), and genes the failed file had
    already given records in before it broke (its partial records would be mixed with the others)."""
    if not failed:
        return {}
    why_all = "; ".join(f"{p.name} failed: {why}" for p, why, _ in failed)
    out = {}
    for gene in genes:
        partial = [f"{p.name} failed: {why}" for p, why, begun in failed if gene in begun]
        if partial:
            out[gene] = "not assessed: " + "; ".join(partial)
        elif gene not in read_genes:
            out[gene] = "not assessed: " + why_all
    return out


def _output_paths(out_dir: Path, n_parts: int | None) -> list[tuple[Path, Path]]:
    if n_parts is None:
        return [(out_dir / "genotypes.parquet", out_dir / "samples.parquet")]
    return [(out_dir / f"{sharding.part_name(i)}.genotypes.parquet", out_dir / f"{sharding.part_name(i)}.samples.parquet")
            for i in range(n_parts)]


class _MatrixBuilder:
    """Accumulates per-gene (positions x samples) arrays from VCF records."""

    def __init__(self, n_samples: int) -> None:
        self.n = n_samples
        self.n_records_used = 0
        self.n_ref_mismatch = 0
        self.n_sites_seen = 0
        self.warnings: list[str] = []
        self.covered: set[str] = set()
        self.current: set[str] = set()  # genes of this job with a record in the file being read
        # Genes of the whole knowledge base (not only this job's group) with a record in their region.
        self.touched: set[str] = set()
        self.n_records_read = 0
        self.haploid_autosome: Counter = Counter()  # gene -> genotypes read as missing
        self.polyploid: Counter = Counter()
        self.padded_records: Counter = Counter()  # gene -> records read at a position after their POS
        self.ref_mismatch_sites: dict[str, list[int]] = {}

    def summary_notes(self, genes: list[str], build: str = "GRCh38") -> list[str]:
        """What was read differently from the file's face value, for the log, samples.notes and the report."""
        notes = []
        if self.n_sites_seen == 0 and genes:
            notes.append(f"no record at any allele-defining position of {', '.join(genes)} ({self.n_records_read} record(s) "
                         "read): these genes will be not called; check the file is on GRCh38 and covers the pharmacogenes")
        for gene, n in sorted(self.haploid_autosome.items()):
            notes.append(f"haploid genotype(s) on autosomal {gene} ({n}): read as missing; check the caller's ploidy setting")
        for gene, n in sorted(self.padded_records.items()):
            notes.append(f"{n} record(s) in {gene} padded further left than the normalised form were read at the "
                         "allele-defining position their alleles describe (bcftools norm writes them there)")
        for gene, n in sorted(self.polyploid.items()):
            notes.append(f"polyploid genotype(s) in {gene} ({n}): cannot be matched to a diplotype, read as missing")
        for gene, positions in sorted(self.ref_mismatch_sites.items()):
            shown = ", ".join(str(p) for p in positions[:5])
            notes.append(f"REF differs from the allele definitions at {len(positions)} position(s) of {gene} ({shown}): "
                         f"read as missing; check the reference genome ({build}) and the normalisation")
        return notes

    def read(self, vcf, path: Path, genes: list[GeneSites], mats: dict, contigs: ContigMap, indexed: bool,
             all_genes: list[GeneSites], lifted: builds.LiftedReader | None = None) -> None:
        """`lifted`: a GRCh37 input, queried at GRCh37 regions and its records translated to GRCh38 (builds)."""
        wrap = (lambda records: lifted.wrap(records, contigs.to_kb)) if lifted is not None else (lambda records: records)
        lookup: dict[tuple[str, int], list[tuple[GeneSites, int]]] = {}
        for g in genes:
            for i, site in enumerate(g.sites):
                lookup.setdefault((g.kb_contig, site.position), []).append((g, i))
        # Sorted defining positions per contig, to find the ones a gVCF reference block (END=) covers.
        self._sorted = {}
        for chrom, pos in lookup:
            self._sorted.setdefault(chrom, []).append(pos)
        self._sorted = {c: np.array(sorted(p), dtype=np.int64) for c, p in self._sorted.items()}
        if indexed:
            present = set(vcf.seqnames)
            for g in genes:
                if g.vcf_contig not in present:
                    continue
                with warnings.catch_warnings():
                    # cyvcf2 warns for a region with no records: normal for a file split by chromosome
                    warnings.filterwarnings("ignore", message="no intervals found")
                    if lifted is not None:
                        span = lifted.region(g.gene)
                        if span is not None:
                            self._consume(wrap(vcf(f"{g.vcf_contig}:{span[0]}-{span[1]}")), lookup, mats, path,
                                          contigs, restrict=g.gene)
                        continue
                    # Only the records overlapping the defining positions (a padded deletion or a gVCF block
                    # reaching one included): a gene window holds thousands of other records, and reading them cost
                    # a single-sample file most of its time. A record overlapping two clusters is read once.
                    previous_end = 0
                    for start, end in _clusters(sorted(s.position for s in g.sites)):
                        region = vcf(f"{g.vcf_contig}:{start}-{end}")
                        self._consume((r for r in region if r.POS > previous_end or r.POS >= start), lookup, mats,
                                      path, contigs, restrict=g.gene)
                        previous_end = end
                    if g.gene not in self.current:
                        # "Region read" means any record between the first and last defining position: the first
                        # one is enough (it overlaps no defining position, or a cluster query would have found it).
                        first, last = min(s.position for s in g.sites), max(s.position for s in g.sites)
                        self._consume(itertools.islice(vcf(f"{g.vcf_contig}:{first}-{last}"), 1), lookup, mats, path,
                                      contigs, restrict=g.gene)
            self.touched |= self.covered
        else:
            spans = _spans(all_genes)
            self._consume(wrap(vcf), lookup, mats, path, contigs, restrict=None, spans=spans)

    def empty(self, g: GeneSites) -> dict:
        shape = (len(g.sites), self.n)
        return {
            "gene": g,
            "vocab": [[s.ref, *s.alts] for s in g.sites],
            "a1": np.full(shape, UNSET, dtype=np.int16),
            "a2": np.full(shape, UNSET, dtype=np.int16),
            "phased": np.zeros(shape, dtype=bool),
            # PS/DP/GQ are allocated when a record first carries them: most cohort VCFs have none, and these
            # three would be 16 of the 21 bytes per (position, sample) cell.
            "ps": None,
            "dp": None,
            "gq": None,
            "shape": shape,
            "filter": [None] * len(g.sites),
            "vcf_ref": [None] * len(g.sites),
            "vcf_alts": [None] * len(g.sites),
            "ref_mismatch": np.zeros(len(g.sites), dtype=bool),
        }

    def _consume(self, records, lookup, mats, path: Path, contigs: ContigMap, restrict: str | None,
                 spans: dict[str, list[tuple[int, int, str]]] | None = None) -> None:
        to_kb = contigs.to_kb
        try:
            for rec in records:
                self.n_records_read += 1
                chrom = to_kb(rec.CHROM)
                if restrict is not None:
                    self.covered.add(restrict)
                    self.current.add(restrict)
                elif spans and chrom in spans:
                    hit = {g for start, end, g in spans[chrom] if start <= rec.POS <= end}
                    self.touched |= hit
                    self.covered |= hit & mats.keys()
                    self.current |= hit & mats.keys()
                targets = lookup.get((chrom, rec.POS))
                if targets:
                    for g, i in targets:
                        if restrict is None or g.gene == restrict:
                            self._add(rec, mats[g.gene], i)
                if len(rec.REF) > 1 and chrom in self._sorted:
                    self._add_padded(rec, chrom, lookup, mats, restrict)
                if chrom in self._sorted and _is_reference_block(rec):
                    # gVCF reference block: its genotype holds at every position it covers after POS
                    # (0/0 = called reference; ./. = no call; <NON_REF> = unknown allele, never reference).
                    sorted_pos = self._sorted[chrom]
                    lo, hi = np.searchsorted(sorted_pos, [rec.POS + 1, rec.end + 1])
                    for pos in sorted_pos[lo:hi]:
                        for g, i in lookup[(chrom, int(pos))]:
                            if restrict is None or g.gene == restrict:
                                self._add(rec, mats[g.gene], i, block=True)
        except Exception as exc:  # htslib read errors surface as several exception types
            raise PgxInputError(f"could not read records ({exc}); the file may be truncated or malformed", path=path) from exc

    def _add_padded(self, rec, chrom: str, lookup, mats, restrict: str | None) -> None:
        """Defining positions inside the record's REF after POS, read from a record padded further left."""
        sorted_pos = self._sorted[chrom]
        lo, hi = np.searchsorted(sorted_pos, [rec.POS + 1, rec.POS + len(rec.REF)])
        for pos in sorted_pos[lo:hi]:
            shifted = strip_left_padding(rec.REF, list(rec.ALT), int(pos) - rec.POS)
            if shifted is None:
                continue
            for g, i in lookup[(chrom, int(pos))]:
                if (restrict is None or g.gene == restrict) and ref_consistent(g.sites[i], shifted[0]):
                    self.padded_records[g.gene] += 1
                    self._add(rec, mats[g.gene], i, alleles=shifted)

    def _add(self, rec, m: dict, i: int, *, block: bool = False, alleles: tuple[str, list[str]] | None = None) -> None:
        """Put one record's genotypes at definition site i; `alleles` = the record's (REF, ALTs) read at the site."""
        site: DefinitionSite = m["gene"].sites[i]
        self.n_records_used += 1
        first = m["vcf_ref"][i] is None
        if first:
            self.n_sites_seen += 1
        rec_ref, rec_alts = alleles if alleles is not None else (rec.REF, list(rec.ALT))
        # A reference block's REF is the base at its start, not here: the block asserts the site's REF.
        vcf_ref = site.ref if block else rec_ref
        m["vcf_ref"][i] = vcf_ref if first else m["vcf_ref"][i]
        m["vcf_alts"][i] = list(rec_alts) if first else m["vcf_alts"][i] + list(rec_alts)
        m["filter"][i] = (rec.FILTER or "PASS") if first else m["filter"][i]
        if getattr(rec, "ref_mismatch", False) or not ref_consistent(site, vcf_ref):
            if not m["ref_mismatch"][i]:
                self.n_ref_mismatch += 1
                self.ref_mismatch_sites.setdefault(m["gene"].gene, []).append(site.position)
            m["ref_mismatch"][i] = True
            return
        if block:
            # A GRCh37 block asserts GRCh37's base, which differs from the definition's REF where the reference changed.
            base_at = getattr(rec, "reference_base_at", None)
            mapped = [base_at(site.position, site.ref) if base_at else site.ref] + [None] * len(rec_alts)
        else:
            mapped = map_record_alleles(site, site.position if alleles is not None else rec.POS, rec_ref, rec_alts)
        vocab = m["vocab"][i]
        codes = np.empty(len(mapped), dtype=np.int16)
        for k, allele in enumerate(mapped):
            if allele is None:
                codes[k] = MISSING
            else:
                if allele not in vocab:
                    vocab.append(allele)
                codes[k] = vocab.index(allele)
        gt = rec.genotype.array()  # (samples, ploidy + 1): allele indexes, -1 missing, -2 absent; last = phased
        a1 = _translate(gt[:, 0], codes)
        a2 = _translate(gt[:, 1], codes) if gt.shape[1] > 2 else np.full(self.n, NOT_PRESENT, dtype=np.int16)
        if gt.shape[1] > 3:
            extra = (gt[:, 2:-1] != -2).any(axis=1)
            a1[extra], a2[extra] = MISSING, MISSING  # polyploid calls cannot be matched to a diplotype
            if extra.any():
                self.polyploid[m["gene"].gene] += int(extra.sum())
        if m["gene"].kb_contig not in HAPLOID_CONTIGS:
            # A haploid call on an autosome is a caller/ploidy error: matching it as one allele would report
            # a single-allele "diplotype" for a diploid gene.
            haploid = (a2 == NOT_PRESENT) & (gt[:, 0] != NOT_PRESENT)
            if haploid.any():
                a1[haploid], a2[haploid] = MISSING, MISSING
                self.haploid_autosome[m["gene"].gene] += int(haploid.sum())
        m["a1"][i] = _merge(m["a1"][i], a1)
        m["a2"][i] = _merge(m["a2"][i], a2)
        m["phased"][i] |= gt[:, -1].astype(bool) & (gt[:, 1] != NOT_PRESENT if gt.shape[1] > 2 else True)
        for key, fmt in (("ps", "PS"), ("dp", "DP"), ("gq", "GQ")):
            values = _format_int(rec, fmt, self.n)
            if values is not None:
                if m[key] is None:
                    m[key] = np.full(m["shape"], -1, dtype=np.int64 if key == "ps" else np.int32)
                m[key][i] = np.maximum(m[key][i], values)


def _is_reference_block(rec) -> bool:
    """A gVCF reference block: spans bases after POS (END=) and has only symbolic ALTs (<NON_REF>, <*>)."""
    if rec.end <= rec.POS or rec.INFO.get("END") is None:
        return False
    return all(alt.startswith("<") for alt in rec.ALT)


def _region(g: GeneSites, lifted: builds.LiftedReader | None) -> tuple[int, int] | None:
    """The gene's first and last defining position in the input's coordinates (GRCh37 ones for a lifted input)."""
    if lifted is not None:
        return lifted.region(g.gene)
    positions = [s.position for s in g.sites]
    return min(positions), max(positions)


def _indexed_regions_with_records(vcf, genes: list[GeneSites], lifted: builds.LiftedReader | None = None) -> set[str]:
    """Genes (of other groups) with at least one record in their region: one index query each, first record only."""
    present = set(vcf.seqnames)
    found = set()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="no intervals found")
        for g in genes:
            span = _region(g, lifted)
            if g.vcf_contig in present and span is not None:
                if next(iter(vcf(f"{g.vcf_contig}:{span[0]}-{span[1]}")), None) is not None:
                    found.add(g.gene)
    return found


def _clusters(positions: list[int], gap: int = CLUSTER_GAP) -> list[tuple[int, int]]:
    """Sorted positions as intervals, positions closer than `gap` in one (one index query each)."""
    out: list[list[int]] = []
    for p in positions:
        if out and p - out[-1][1] <= gap:
            out[-1][1] = p
        else:
            out.append([p, p])
    return [(a, b) for a, b in out]


def _spans(genes: list[GeneSites]) -> dict[str, list[tuple[int, int, str]]]:
    out: dict[str, list[tuple[int, int, str]]] = {}
    for g in genes:
        positions = [s.position for s in g.sites]
        out.setdefault(g.kb_contig, []).append((min(positions), max(positions), g.gene))
    return out


def _translate(gt_col: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.full(gt_col.shape, MISSING, dtype=np.int16)
    ok = (gt_col >= 0) & (gt_col < len(codes))
    out[ok] = codes[gt_col[ok]]
    out[gt_col == NOT_PRESENT] = NOT_PRESENT
    return out


def _merge(current: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Combine split records at one position: an ALT wins over REF; two different ALTs conflict."""
    out = current.copy()
    unset = current == UNSET
    out[unset] = new[unset]
    alt_new = new > 0
    take = alt_new & ((current == 0) | (current == MISSING))
    out[take] = new[take]
    clash = alt_new & (current > 0) & (current != new)
    out[clash] = CONFLICT
    return out


def _format_int(rec, field: str, n: int) -> np.ndarray | None:
    try:
        values = rec.format(field)
    except KeyError:
        return None
    if values is None or values.dtype.kind not in "iu":
        return None
    col = values[:, 0].astype(np.int64)
    col[col < -(2**30)] = -1  # htslib's missing/vector-end sentinels
    return col


STATE_NAMES = np.array(["called", "partial", "no_call", "absent", "ref_mismatch"], dtype=object)


def _states(m: dict, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """State and ploidy codes of the samples in `cols` (per chunk, so no full-cohort temporaries)."""
    a1, a2 = m["a1"][:, cols], m["a2"][:, cols]
    haploid = a2 == NOT_PRESENT
    known1 = a1 >= 0
    known2 = (a2 >= 0) | haploid
    state = np.where(known1 & known2, 0, np.where(known1 | (a2 >= 0), 1, 2))
    state[a1 == UNSET] = 3
    state[m["ref_mismatch"], :] = 4
    ploidy = np.where(state == 3, 0, np.where(haploid, 1, 2))
    return state, ploidy


def _write_genotypes(path: Path, by_gene: dict[str, dict], samples: list[str], input_id: str, meta: dict,
                     covered: set[str], part: slice | None = None) -> None:
    """Long table, gene-major then sample-major, written in (gene, sample chunk) row groups so memory stays
    bounded by one gene x one chunk."""
    table = schema.GENOTYPES
    prepared = []
    for gene in sorted(by_gene):
        m = by_gene[gene]
        vocab = m["vocab"]
        width = max(len(v) for v in vocab)
        vmat = np.full((len(vocab), width), None, dtype=object)
        for i, v in enumerate(vocab):
            vmat[i, : len(v)] = v
        prepared.append((gene, m, vmat, gene in covered))

    arrow_schema = table.arrow_schema.with_metadata(
        {b"pgx_pipeline.table": table.name.encode(), **{f"pgx_pipeline.{k}".encode(): str(v).encode() for k, v in meta.items()}}
    )
    fd, tmp = schema.atomic_path(path)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, arrow_schema, compression="zstd") as writer:
            start, stop = (part.start, part.stop) if part is not None else (0, len(samples))
            # Gene-major rows (gene, then sample, then position), built one gene x SAMPLE_CHUNK samples at a time.
            for gene_prepared in prepared:
                for s0 in range(start, stop, SAMPLE_CHUNK):
                    s1 = min(s0 + SAMPLE_CHUNK, stop)
                    writer.write_table(_chunk_table(gene_prepared, samples, s0, s1, input_id, arrow_schema))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _strings(indices: np.ndarray, dictionary) -> pa.Array:
    """String column from integer codes (negative = null), decoded in Arrow rather than in Python objects."""
    codes = pa.array(indices.astype(np.int32), mask=indices < 0)
    return pa.DictionaryArray.from_arrays(codes, pa.array(list(dictionary), type=pa.string())).dictionary_decode()


def _chunk_table(prepared, samples, s0, s1, input_id, arrow_schema) -> pa.Table:
    """Rows of one gene for samples s0..s1, sample-major (each sample's positions in definition order)."""
    gene, m, vmat, region_read = prepared
    cols: dict[str, pa.Array] = {}
    ns = s1 - s0
    g: GeneSites = m["gene"]
    npos = len(g.sites)
    n = npos * ns
    pos_idx = np.tile(np.arange(npos), ns)
    samp_idx = np.repeat(np.arange(ns), npos)
    sl = (pos_idx, samp_idx + s0)
    state, ploidy = _states(m, slice(s0, s1))
    st = state[pos_idx, samp_idx]
    conflict = (m["a1"][sl] == CONFLICT) | (m["a2"][sl] == CONFLICT)
    st = np.where(conflict & (st < 3), 2, st)
    usable = st != 4
    width = vmat.shape[1]
    flat_vocab = vmat.reshape(-1)
    for col, key in (("allele1", "a1"), ("allele2", "a2")):
        a = m[key][sl].astype(np.int64)
        cols[col] = _strings(np.where((a >= 0) & usable, pos_idx * width + np.clip(a, 0, None), -1), flat_vocab)
    cols["sample_id"] = _strings(samp_idx + s0, samples)
    cols["input_id"] = _strings(np.zeros(n, dtype=np.int64), [input_id])
    cols["gene"] = _strings(np.zeros(n, dtype=np.int64), [gene])
    cols["position_index"] = pa.array(pos_idx.astype(np.int32))
    cols["chromosome"] = _strings(np.zeros(n, dtype=np.int64), [g.kb_contig])
    cols["position"] = pa.array(g.positions["position"].to_numpy(np.int64)[pos_idx])
    cols["state"] = _strings(st, STATE_NAMES)
    cols["ploidy"] = pa.array(ploidy[pos_idx, samp_idx].astype(np.int32))
    cols["phased"] = pa.array(m["phased"][sl])
    ps = m["ps"][sl] if m["ps"] is not None else np.full(n, -1, dtype=np.int64)
    cols["phase_set"] = pa.array(ps, mask=ps < 0)
    for key, name in (("dp", "depth"), ("gq", "genotype_quality")):
        v = m[key][sl] if m[key] is not None else np.full(n, -1, dtype=np.int32)
        cols[name] = pa.array(v, type=pa.int32(), mask=v < 0)
    site_codes = np.where(np.array([f is None for f in m["filter"]]), -1, np.arange(npos))[pos_idx]
    cols["filter"] = _strings(site_codes, [f or "" for f in m["filter"]])
    cols["vcf_ref"] = _strings(site_codes, [r or "" for r in m["vcf_ref"]])
    alts = pa.array([a for a in m["vcf_alts"]], type=pa.list_(pa.string()))
    cols["vcf_alts"] = alts.take(pa.array(pos_idx))
    cols["gene_region_read"] = pa.array(np.full(n, region_read))
    arrays = [cols[f.name].cast(f.type) for f in arrow_schema]
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def record_failed_input(vcf_paths: list[str], out_dir: str | os.PathLike, *, input_id: str, error: str,
                        n_parts: int | None = None) -> None:
    """An input that cannot be read still gets its tables: no genotypes, one failed row saying why (in the first part)."""
    out_dir = Path(out_dir)
    names = ",".join(Path(p).name for p in vcf_paths)
    meta = {"input_id": input_id, "source_file": names, "absent_is_reference": "False"}
    empty = pd.DataFrame({c: [] for c in schema.GENOTYPES.column_names})
    failed = pd.DataFrame(
        [{"sample_id": input_id, "input_id": input_id, "source_file": names, "absent_is_reference": False,
          "sex": None, "status": "failed", "error": error, "notes": [], "failed_files": [], "not_assessed_genes": [],
          "input_build": None, "build_evidence": None, "unlifted_positions": []}]
    )
    for i, (geno_path, samples_path) in enumerate(_output_paths(out_dir, n_parts)):
        schema.write_table(empty, geno_path, schema.GENOTYPES, metadata=meta)
        schema.write_table(failed if i == 0 else failed.iloc[0:0], samples_path, schema.SAMPLES, metadata=meta)
