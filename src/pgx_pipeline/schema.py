"""Every Parquet table the pipeline reads or writes, with its columns documented in one place.

Each stage validates what it reads and what it writes against this registry (`read_table` / `write_table`),
so a column that changes meaning changes here first.  `docs/SCHEMAS.md` is generated from it
(`pgx-pipeline schema --markdown`).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import PgxInputError

STR = pa.string()
I32 = pa.int32()
I64 = pa.int64()
F64 = pa.float64()
BOOL = pa.bool_()
STR_LIST = pa.list_(pa.string())
I64_LIST = pa.list_(pa.int64())


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.type, nullable=c.nullable, metadata={"doc": c.doc})
                for c in self.columns
            ]
        )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _t(name: str, doc: str, *cols: tuple) -> Table:
    return Table(name, doc, tuple(Column(*c) for c in cols))


# ---------------------------------------------------------------- knowledge base
KB_GENES = _t(
    "kb_genes",
    "One row per gene with an allele definition, and the matcher exemptions that apply to it.",
    ("gene", STR, "HGNC symbol, e.g. CYP2C19", False),
    ("chromosome", STR, "GRCh38 contig as written in the definitions (chr-prefixed)", False),
    ("genome_build", STR, "build named by the definition file, e.g. GRCh38.p14", False),
    ("refseq_chromosome", STR, "RefSeq accession of the chromosome, e.g. NC_000010.11 (accepted as a contig name)"),
    ("reference_allele", STR, "name of the definition's reference named allele (all positions defined)", False),
    ("n_positions", I32, "number of allele-defining positions (after ignoredPositions)", False),
    ("n_alleles", I32, "number of named alleles considered (after ignoredAlleles)", False),
    ("undocumented_as_reference", BOOL, "an undocumented ALT at a defining position is read as reference (PharmCAT's toxicity genes)", False),
    ("required_positions", I64_LIST, "positions that must be called for any call to be made (exemptions.json)"),
    ("ignored_alleles", STR_LIST, "named alleles the matcher never calls (exemptions.json)"),
    ("unphased_priorities", pa.list_(pa.struct([("candidates", STR_LIST), ("pick", STR)])), "unphased priority table (exemptions.json; NAT2): when every diplotype listed fits an unphased genotype, the pick is called, whatever the scores (PharmCAT)"),
    ("data_version", STR, "upstream data version stamped in the definition file", False),
)

KB_POSITIONS = _t(
    "kb_positions",
    "One row per allele-defining (or extra reported) position of a gene, in definition order.",
    ("gene", STR, "gene symbol", False),
    ("position_index", I32, "0-based column of this position in the gene's allele definition table; -1 for extra positions", False),
    ("chromosome", STR, "GRCh38 contig, chr-prefixed", False),
    ("position", I64, "1-based VCF POS of the normalised (left-aligned, padded) representation", False),
    ("rsid", STR, "dbSNP id when known"),
    ("hgvs", STR, "chromosome HGVS name from the definition"),
    ("ref", STR, "REF allele in VCF representation", False),
    ("alts", STR_LIST, "documented ALT alleles in VCF representation", False),
    ("is_extra", BOOL, "reported but not allele-defining (exemptions extraPositions)", False),
)

KB_ALLELES = _t(
    "kb_alleles",
    "One row per named allele, with its VCF-space base at every defining position of its gene.",
    ("gene", STR, "gene symbol", False),
    ("allele", STR, "named allele, e.g. *17 or c.1905+1G>A", False),
    ("allele_id", STR, "ClinPGx/PharmVar accession"),
    ("is_reference", BOOL, "the gene's reference allele (every position defined)", False),
    ("bases", STR_LIST, "per position_index: defined base (IUPAC codes allowed) or null = same as the reference allele", False),
    ("n_defined", I32, "number of non-blank cells: the PharmCAT score before missing positions are dropped", False),
)

KB_ALLELE_FUNCTIONS = _t(
    "kb_allele_functions",
    "Allele function and activity value per named allele, from the phenotype files.",
    ("gene", STR, "gene symbol", False),
    ("allele", STR, "named allele", False),
    ("function", STR, "clinical function, e.g. 'Decreased function'"),
    ("activity_value", STR, "activity value as published (text: 'n/a', '0.25', '≥3.0' occur)"),
    ("lookup_key", STR, "the allele's own lookup key (activity value or function)"),
    ("data_version", STR, "phenotype file data version", False),
    ("stale_source", BOOL, "came from the stale fallback mirror, not the current release", False),
)

KB_DIPLOTYPE_PHENOTYPES = _t(
    "kb_diplotype_phenotypes",
    "The published diplotype -> phenotype / activity score / lookup key table of each gene.",
    ("gene", STR, "gene symbol", False),
    ("diplotype", STR, "diplotype as published, alleles sorted, e.g. *1/*2", False),
    ("allele1", STR, "first allele of the diplotype", False),
    ("allele2", STR, "second allele (null for haploid chrX entries)"),
    ("phenotype", STR, "phenotype, e.g. 'Intermediate Metabolizer'"),
    ("activity_score", STR, "activity score as published (text), null where not used"),
    ("lookup_key", STR, "key that guideline recommendations are matched on", False),
    ("data_version", STR, "phenotype file data version", False),
    ("stale_source", BOOL, "came from the stale fallback mirror", False),
)

KB_GUIDANCE = _t(
    "kb_guidance",
    "One row per guideline recommendation (CPIC, DPWG) and drug.",
    ("guideline_id", STR, "ClinPGx guideline annotation id", False),
    ("guideline_name", STR, "guideline annotation name", False),
    ("source", STR, "CPIC or DPWG", False),
    ("guideline_version", STR, "version of the guideline annotation", False),
    ("url", STR, "link to the guideline annotation"),
    ("drug", STR, "drug name (one row per related drug)", False),
    ("genes", STR_LIST, "genes the guideline is about, sorted", False),
    ("recommendation_id", STR, "recommendation id", False),
    ("population", STR, "population the recommendation applies to, e.g. 'adults'; 'general' when none"),
    ("lookup_genes", STR_LIST, "genes of the lookup key, aligned with lookup_values", False),
    ("lookup_values", STR_LIST, "required lookup key value per lookup gene", False),
    ("recommendation", STR, "recommendation text (plain text, HTML stripped)"),
    ("implications", STR_LIST, "implications, one per gene"),
    ("classification", STR, "strength: Strong, Moderate, Optional, No Recommendation ..."),
    ("dosing_information", BOOL, "recommendation changes the dose"),
    ("alternate_drug", BOOL, "recommendation suggests another drug"),
    ("other_guidance", BOOL, "recommendation has other prescribing guidance"),
    ("data_version", STR, "version of the file the row came from", False),
    ("stale_source", BOOL, "came from the stale fallback mirror", False),
)

KB_MESSAGES = _t(
    "kb_messages",
    "PharmCAT reporter messages (ambiguity notes and warnings) with the conditions they attach to.",
    ("name", STR, "message rule name", False),
    ("exception_type", STR, "e.g. 'ambiguity', 'report-as-reference', 'extra-position-notes'"),
    ("gene", STR, "gene the message is about"),
    ("haps_called", STR_LIST, "alleles that must be in the call (empty = any)"),
    ("haps_missing", STR_LIST, "alleles that must be uncallable because of missing positions"),
    ("variants_missing", STR_LIST, "variants (rsids) that must be missing"),
    ("variants", STR_LIST, "variants (rsids) that must be present (non-reference)"),
    ("diplotypes", STR_LIST, "diplotypes it matches (empty = any)"),
    ("drugs", STR_LIST, "drugs the message attaches to (empty = the gene's call)"),
    ("message", STR, "message text", False),
    ("data_version", STR, "messages rule version", False),
)

KB_SOURCES = _t(
    "kb_sources",
    "What the knowledge base was built from: one row per source file read.",
    ("file", STR, "path relative to its source root", False),
    ("source_root", STR, "name of the mirror folder (or, for the FDA table, of the folder) it was read from (never a machine path)", False),
    ("priority", I32, "0 = first source; higher = fallback; -1 = a file configured on its own (the FDA table, the "
                      "GRCh38->GRCh37 liftOver chain, the GRCh37 reference differences shipped with the package)", False),
    ("sha256", STR, "checksum of the file read", False),
    ("git_blob", STR, "git blob id of the file read (`git hash-object`): comparable with the upstream tree", False),
    ("upstream_path", STR, "path in the upstream repository (from the mirror's MANIFEST.tsv)"),
    ("upstream_commit", STR, "upstream commit the file was taken from (from the mirror's MANIFEST.tsv)"),
    ("data_version", STR, "version stamped in the file"),
    ("stale", BOOL, "source is a declared stale fallback", False),
)

KB_BUILD_MAP = _t(
    "kb_build_map",
    "Every allele-defining position (kb_positions) lifted once from GRCh38 to GRCh37 with the UCSC liftOver chain "
    "(knowledge.grch37_chain; pgx_pipeline.knowledge.build_map): how a GRCh37 input is read. Empty when the knowledge "
    "base was built without a chain (GRCh37 inputs then fail, saying so).",
    ("gene", STR, "gene symbol", False),
    ("position_index", I32, "column in the gene's definition table (kb_positions)", False),
    ("chromosome", STR, "GRCh38 contig as named in the knowledge base", False),
    ("position", I64, "GRCh38 1-based position", False),
    ("ref", STR, "GRCh38 reference allele of the definition", False),
    ("grch37_chromosome", STR, "GRCh37 contig, named as the knowledge base names it (chr prefix); null when not lifted"),
    ("grch37_position", I64, "GRCh37 1-based position of the definition's first REF base; null when not lifted"),
    ("grch37_strand", STR, "'+' or '-': strand of GRCh37 the chain maps the position to (alleles of a '-' position "
                           "are reverse-complemented); null when not lifted"),
    ("grch37_ref", STR, "GRCh37's reference allele at the position, written on GRCh38's strand: equal to `ref` except "
                        "where the reference genome changed between builds; null when not lifted"),
    ("status", STR, "'lifted', 'lifted, reference differs' (a GRCh37 0/0 there is a GRCh38 variant) or 'not lifted'",
     False),
    ("reason", STR, "why the position is not lifted (reported as missing on every GRCh37 input), or the evidence for "
                    "a reference difference"),
)

KB_FDA_ASSOCIATIONS = _t(
    "kb_fda_associations",
    "The FDA Table of Pharmacogenetic Associations, one row per association, verbatim, with how each row's affected "
    "subgroup is mapped to the pipeline's results (pgx_pipeline.knowledge.fda; all rows: docs/FDA_ASSOCIATIONS.md).",
    ("row", I32, "0-based position of the association in the source file", False),
    ("source_url", STR, "the FDA page the table was copied from", False),
    ("retrieved_at", STR, "when the copy was retrieved (ISO 8601, as in the source file)", False),
    ("section", I32, "1 = therapeutic management recommendations, 2 = potential impact on safety or response, "
     "3 = pharmacokinetic properties only", False),
    ("section_title", STR, "the section's title on the FDA page", False),
    ("gene_label", STR, "gene as the FDA writes it, e.g. 'CYP2C19', 'TPMT and/or NUDT15', 'Nonspecific (NAT)'", False),
    ("drug", STR, "drug as the FDA writes it (guidance rows use it lower-cased, like CPIC/DPWG names)", False),
    ("affected_subgroups", STR, "the FDA's affected-subgroup text, verbatim (footnote artefacts included)", False),
    ("description", STR, "the FDA's description of gene-drug interaction, verbatim", False),
    ("mapping_kind", STR, "phenotype | genotype | allele presence | phenotype or allele presence | compound gene | "
     "gene not called | unmapped", False),
    ("genes", STR_LIST, "genes the row is evaluated on (the label itself when it names no gene the pipeline calls)",
     False),
    ("condition", STR, "machine-readable condition, JSON {\"any\": [clause, ...]}; clause keys: gene with phenotypes | "
     "diplotypes | alleles_present | variant+variant_alleles+copies | hla_positive; null when not evaluated"),
    ("condition_text", STR, "the condition in words, e.g. 'CYP2C19: Intermediate Metabolizer or Poor Metabolizer'"),
    ("unmapped_reason", STR, "why the row is not evaluated for any patient (gene not called, compound label, no exact "
     "mapping rule)"),
    ("mapping_note", STR, "what the mapping ignored, e.g. a footnote digit glued to the FDA text"),
    ("label", STR, "report label of a matched row: act | consider (section 1, decided from the text), consider "
     "(section 2), info (section 3)", False),
    ("label_basis", STR, "why: the FDA phrase that makes a section-1 row act, or the section rule", False),
    ("act_for", STR, "JSON: the part of the subgroup 'act' is written for ({\"phenotypes\": [...]} or "
     "{\"diplotypes\": [...]}); the rest of a matched subgroup is consider; null = all of it"),
)

# ---------------------------------------------------------------- ingestion
SAMPLES = _t(
    "samples",
    "One row per sample found in an input, with its ingestion outcome.",
    ("sample_id", STR, "sample id as in the VCF header (or sample sheet)", False),
    ("input_id", STR, "id of the input the sample came from", False),
    ("source_file", STR, "file name of the input VCF", False),
    ("absent_is_reference", BOOL, "positions absent from this input are treated as reference", False),
    ("sex", STR, "'male', 'female' or null when unknown (from the sample sheet)"),
    ("status", STR, "'ok' or 'failed'", False),
    ("error", STR, "why the sample failed"),
    ("notes", STR_LIST, "what ingestion read differently from the file's face value (input-level, e.g. haploid "
                        "genotypes on an autosome read as missing); shown on the report"),
    ("failed_files", STR_LIST, "files of a declared split group that could not be read, as 'file: reason' (the "
                               "other files were read)"),
    ("not_assessed_genes", STR_LIST, "'GENE: why' for genes left not assessed because a file of the input failed "
                                     "(the gene is in no file that was read, or the failed file had begun to "
                                     "give records in it)"),
    ("input_build", STR, "genome build of the input: 'GRCh38', or 'GRCh37' (read through kb_build_map: positions "
                         "translated to GRCh38, alleles checked against the GRCh38 definitions); null when it failed"),
    ("build_evidence", STR, "how the build was known: stated (--build / inputs[].build / build), header (contig "
                            "lengths, ##reference, assembly tags) or records (REF bases at definition positions)"),
    ("unlifted_positions", STR_LIST, "GRCh37 input: 'GENE rsid (chr:pos GRCh38): reason' for every position of "
                                     "this job's genes that could not be lifted; they are missing, never reference"),
)

GENOTYPES = _t(
    "genotypes",
    "One row per sample and allele-defining position: the observed genotype and its state.",
    ("sample_id", STR, "sample id", False),
    ("input_id", STR, "input the row came from", False),
    ("gene", STR, "gene the position belongs to", False),
    ("position_index", I32, "column in the gene's definition table (kb_positions)", False),
    ("chromosome", STR, "contig as named in the knowledge base", False),
    ("position", I64, "1-based POS on GRCh38 (a GRCh37 input's positions are translated through kb_build_map)", False),
    ("state", STR, "called | partial | no_call | absent | ref_mismatch", False),
    ("allele1", STR, "first allele (VCF representation, definition space); null when missing"),
    ("allele2", STR, "second allele; null when missing or haploid"),
    ("ploidy", I32, "1 or 2 (0 when absent)", False),
    ("phased", BOOL, "GT was phased ('|')", False),
    ("phase_set", I64, "FORMAT/PS when present"),
    ("depth", I32, "FORMAT/DP when present"),
    ("genotype_quality", I32, "FORMAT/GQ when present"),
    ("filter", STR, "FILTER of the record ('PASS' or the failing filters)"),
    ("vcf_ref", STR, "REF as written in the VCF record (a GRCh37 input: as translated to GRCh38, i.e. GRCh38's "
                     "base where the reference changed between builds, and on GRCh38's strand)"),
    ("vcf_alts", STR_LIST, "ALTs as written in the VCF record (a GRCh37 input: as translated to GRCh38)"),
    ("gene_region_read", BOOL, "the input has at least one record between the gene's first and last defining position", False),
)

# ---------------------------------------------------------------- calling
# A patient is (input, sample): a work unit's table may hold several inputs (sharding), and two inputs may name a
# sample the same. Nullable only for tables built by hand; every workflow stage writes it on every row.
INPUT_ID = ("input_id", STR, "input the patient came from: (input_id, sample_id) is the patient; set on every row by "
            "the workflow (a work unit's table may hold several inputs, see the layout above)")
CALLS = _t(
    "calls",
    "One row per sample, gene and candidate diplotype (rank 1 = best; tied candidates all have rank 1).",
    ("sample_id", STR, "sample id", False),
    INPUT_ID,
    ("gene", STR, "gene symbol", False),
    ("diplotype", STR, "PharmVar-style, alleles sorted (e.g. *1/*2), suballeles by their core allele (*45.001 -> *45); haploid calls name one allele; null when not called. DPYD/RYR1 as PharmCAT reports them: variants per chromosome, '[a + b]' = in cis (e.g. Reference/[c.85T>C (*9A) + c.3067C>A]), or unphased the variants found joined by ' AND ', '(homozygous)' marked. SLCO1B1 with no star diplotype: the rs4149056 genotype (rs4149056 T/rs4149056 C), its phenotype looked up as *1/*5 (PharmCAT)"),
    ("allele1", STR, "first allele of the diplotype (DPYD/RYR1: of the lowest-function pair the phenotype is looked up with)"),
    ("allele2", STR, "second allele (null for haploid)"),
    ("rank", I32, "1 + the number of this sample's candidates for the gene that score higher: candidates with equal scores share a rank, so every tied top candidate has rank 1", False),
    ("candidate", I32, "1..n: the candidate's place in the listing (allele-name order), unique per sample and gene; for ordering and joining, never a preference", False),
    ("score", I32, "PharmCAT score: defined cells of both alleles over non-missing positions"),
    ("n_candidates", I32, "how many top-scoring diplotypes the sample has for this gene", False),
    ("phased", BOOL, "the call used phased genotypes (or was effectively phased)", False),
    ("status", STR, "called | not_called | outside_call | not_assessed", False),
    ("source", STR, "vcf | outside", False),
    ("matched_positions", I64_LIST, "positions that were called and used"),
    ("missing_positions", I64_LIST, "defining positions without a usable genotype (dropped from every allele)"),
    ("undocumented_positions", I64_LIST, "positions carrying an ALT the definitions do not document"),
    ("absent_is_reference", BOOL, "absent positions were read as reference for this call", False),
    ("outside_phenotype", STR, "phenotype given by an outside call"),
    ("outside_activity_score", STR, "activity score given by an outside call"),
    ("warnings", STR_LIST, "everything a reviewer must know about this call"),
)

# ---------------------------------------------------------------- phenotype and guidance
PHENOTYPES = _t(
    "phenotypes",
    "One row per sample, gene and candidate diplotype: functions, activity score, phenotype, lookup key.",
    ("sample_id", STR, "sample id", False),
    INPUT_ID,
    ("gene", STR, "gene symbol", False),
    ("diplotype", STR, "diplotype from calls (null when not called)"),
    ("rank", I32, "candidate rank from calls (tied candidates share rank 1)", False),
    ("candidate", I32, "candidate number from calls (unique per sample and gene)", False),
    ("status", STR, "call status from calls", False),
    ("allele1_function", STR, "function of allele 1"),
    ("allele2_function", STR, "function of allele 2"),
    ("activity_score", STR, "activity score (text as published)"),
    ("phenotype", STR, "phenotype; null when it cannot be determined"),
    ("lookup_key", STR, "key used to match guideline recommendations"),
    ("candidates_agree", BOOL, "all top-scoring candidates give the same lookup key", False),
    ("warnings", STR_LIST, "call warnings plus phenotype-step warnings"),
)

GUIDANCE = _t(
    "guidance",
    "One row per sample, drug and guideline: the recommendation that applies, or why none does.",
    ("sample_id", STR, "sample id", False),
    INPUT_ID,
    ("drug", STR, "drug name", False),
    ("source", STR, "CPIC, DPWG or FDA", False),
    ("guideline", STR, "guideline annotation name (FDA: table, section and gene label)", False),
    ("guideline_version", STR, "guideline version", False),
    ("url", STR, "guideline link"),
    ("genes", STR_LIST, "genes of the guideline", False),
    ("lookup_keys", STR_LIST, "'GENE:key' used for the match, one per gene"),
    ("phenotypes", STR_LIST, "'GENE:phenotype' of the sample, one per gene"),
    ("population", STR, "population of the recommendation"),
    ("recommendation", STR, "recommendation text"),
    ("implications", STR_LIST, "implications"),
    ("classification", STR, "strength of the recommendation"),
    ("dosing_information", BOOL, "dose change flagged"),
    ("alternate_drug", BOOL, "alternative drug flagged"),
    ("other_guidance", BOOL, "other prescribing guidance flagged"),
    ("same_as_reference", BOOL, "a patient with reference genotypes (each gene's reference allele twice, no HLA "
     "risk allele) gets this same recommendation from this guideline and population, so the genotype does not change "
     "prescribing; null when not matched or when the reference patient's genes cannot be looked up"),
    ("status", STR, "matched | no_recommendation | gene_not_called | gene_not_assessed | ambiguous; FDA rows also "
     "not_matched (not in the affected subgroup) and not_evaluated (unmapped row or a result the row cannot be read "
     "on)", False),
    ("reason", STR, "why there is no single recommendation; on a matched row, the gene the advice was given without "
     "(the guideline's advice for an untested gene, 'No Result' in its lookup key) or the tie it holds across; on an "
     "ambiguous row with a recommendation, which candidate genotype that advice is for"),
    ("messages", STR_LIST, "knowledge-base messages attached to this drug"),
    ("incomplete", STR, "what this row's advice could not take into account and the test to order, in plain words "
     "('HLA-B not assessed: order HLA-B typing'; a CYP2D6 call from a VCF: its untested copy number and what a "
     "duplication or deletion would change); null when every gene of the guideline had a usable result. The report "
     "never labels such a row Standard"),
    ("fda_section", I32, "FDA rows only: section of the FDA table (1 therapeutic management, 2 safety or response, "
     "3 pharmacokinetics only); null for CPIC/DPWG"),
    ("fda_affected_subgroups", STR, "FDA rows only: the FDA's affected-subgroup text, verbatim"),
    ("fda_label", STR, "FDA rows only, when matched: act | consider | info, from the FDA text (kb_fda_associations."
     "label, 'act' limited to its act_for part of the subgroup)"),
)

# ---------------------------------------------------------------- model
PREDICTIONS = _t(
    "predictions",
    "One row per sample and model: the model estimate, or why it was not predicted.",
    ("sample_id", STR, "sample id", False),
    INPUT_ID,
    ("drug", STR, "drug the model is for", False),
    ("model_version", STR, "model version / card id", False),
    ("status", STR, "predicted | not_predicted", False),
    ("predicted_class", STR, "low | intermediate | high"),
    ("prob_low", F64, "class probability"),
    ("prob_intermediate", F64, "class probability"),
    ("prob_high", F64, "class probability"),
    ("predicted_dose", F64, "predicted dose, in dose_unit (warfarin: weekly dose)"),
    ("dose_lower", F64, "lower bound of the 90% dose interval"),
    ("dose_upper", F64, "upper bound of the 90% dose interval"),
    ("dose_unit", STR, "unit of the dose columns, e.g. mg/week"),
    ("out_of_distribution", BOOL, "inputs outside the training distribution"),
    ("reasons", STR_LIST, "why not predicted; otherwise notes (imputed inputs, out-of-distribution)"),
)



def cohort_predictions(id_column: str) -> Table:
    """What `pgx-pipeline model predict --iwpc/--cohort` writes: one row per patient of an external cohort file,
    named by that file's patient-id column (warfarin: `PharmGKB Subject ID` of the IWPC workbook)."""
    return Table(
        "cohort_predictions",
        "One row per patient of an external cohort file scored by a dose model (external validation); the first "
        "column is the file's own patient id (warfarin: `PharmGKB Subject ID`).",
        (
            Column(id_column, STR, "patient id from the cohort file", False),
            *(c for c in PREDICTIONS.columns if c.name not in ("sample_id", "input_id")),
        ),
    )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        KB_GENES, KB_POSITIONS, KB_ALLELES, KB_ALLELE_FUNCTIONS, KB_DIPLOTYPE_PHENOTYPES,
        KB_GUIDANCE, KB_MESSAGES, KB_FDA_ASSOCIATIONS, KB_BUILD_MAP, KB_SOURCES, SAMPLES, GENOTYPES, CALLS, PHENOTYPES,
        GUIDANCE, PREDICTIONS,
    )
}


def to_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    """Cast a DataFrame to the table's schema; raises ValueError naming the offending column."""
    missing = [c for c in table.column_names if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name}: missing columns {missing}")
    extra = [c for c in df.columns if c not in table.column_names]
    if extra:
        raise ValueError(f"{table.name}: undocumented columns {extra}; add them to schema.py")
    arrays = {}
    for col in table.columns:
        try:
            arrays[col.name] = pa.array(df[col.name].tolist(), type=col.type, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValueError(f"{table.name}.{col.name}: {exc}") from exc
    return from_arrays(arrays, table)


def from_arrays(arrays: Mapping[str, pa.Array], table: Table) -> pa.Table:
    """The table's columns, each already of its schema type, checked for nulls in required columns."""
    for col in table.columns:
        if not col.nullable and arrays[col.name].null_count:
            raise ValueError(f"{table.name}.{col.name}: {arrays[col.name].null_count} null value(s) in a required column")
    return pa.Table.from_arrays([arrays[c] for c in table.column_names], schema=table.arrow_schema)


def atomic_path(path: Path) -> tuple[int, str]:
    """A temporary file beside `path`, so a rename makes the write atomic on the same filesystem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def write_table(
    df: pd.DataFrame | pa.Table,
    path: str | os.PathLike,
    table: Table,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Validate against `table` and write Parquet atomically (temp file, fsync, rename)."""
    path = Path(path)
    arrow = df if isinstance(df, pa.Table) else to_arrow(df, table)
    if isinstance(df, pa.Table) and not arrow.schema.equals(table.arrow_schema, check_metadata=False):
        arrow = arrow.select(table.column_names).cast(table.arrow_schema)
    meta = dict(arrow.schema.metadata or {})
    for k, v in (metadata or {}).items():
        meta[f"pgx_pipeline.{k}".encode()] = str(v).encode()
    meta[b"pgx_pipeline.table"] = table.name.encode()  # after the metadata: a copied stamp must not rename it
    arrow = arrow.replace_schema_metadata(meta)
    fd, tmp = atomic_path(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(arrow, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_table(path: str | os.PathLike, table: Table, columns: list[str] | None = None,
               categorical: list[str] | None = None) -> pd.DataFrame:
    """Read a stage's Parquet output, checking it is the table it claims to be.

    `categorical` columns come back as pandas categoricals, read from Parquet's dictionary pages without making one
    string per row: for long text repeated on many rows (guidance recommendations) that a caller only compares."""
    return read_arrow(path, table, columns, categorical).to_pandas()


def read_arrow(path: str | os.PathLike, table: Table, columns: list[str] | None = None,
               categorical: list[str] | None = None) -> pa.Table:
    """`read_table` as an Arrow table (`categorical` columns dictionary-encoded)."""
    path = Path(path)
    try:
        pf = pq.ParquetFile(path, read_dictionary=categorical)
    except (OSError, pa.ArrowInvalid) as exc:
        raise PgxInputError(f"not a readable Parquet file ({exc}); rerun the stage that makes it", path=path) from exc
    meta = pf.schema_arrow.metadata or {}
    name = meta.get(b"pgx_pipeline.table", b"").decode()
    if name != table.name:
        raise PgxInputError(f"holds table {name!r}, expected {table.name!r}", path=path)
    missing = [c for c in table.column_names if c not in pf.schema_arrow.names]
    if missing:
        raise PgxInputError(f"is missing columns {missing}; rerun the stage that makes it", path=path)
    return pf.read(columns=columns)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The pgx_pipeline.* key/values a stage stamped into a Parquet file."""
    meta = pq.read_schema(path).metadata or {}
    prefix = b"pgx_pipeline."
    return {k[len(prefix):].decode(): v.decode() for k, v in meta.items() if k.startswith(prefix)}


def markdown() -> str:
    """The schema registry as Markdown (docs/SCHEMAS.md)."""
    from . import sharding  # imports this module; only its docstring is needed here

    out = ["# Parquet tables\n", "Generated by `pgx-pipeline schema --markdown` from `src/pgx_pipeline/schema.py`.\n",
           "\n## Layout under results/: work units and datasets\n", inspect.cleandoc(sharding.__doc__ or "")]
    for t in (*TABLES.values(), cohort_predictions("PharmGKB Subject ID")):
        out.append(f"\n## `{t.name}`\n\n{t.doc}\n\n| column | type | required | meaning |\n|---|---|---|---|")
        for c in t.columns:
            out.append(f"| `{c.name}` | `{c.type}` | {'yes' if not c.nullable else 'no'} | {c.doc} |")
    return "\n".join(out) + "\n"
