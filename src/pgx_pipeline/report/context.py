"""Turn one input's stage tables into a plain, JSON-ready dict per sample: the single source of every report.

The HTML template and the JSON export both render this dict, so the two can never say different things.
Nothing here formats HTML; everything here decides *what* a reader is told (labels, priorities, footnotes).
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import __version__, schema, sharding
from ..calling.variant_list import VARIANT_LIST_GENES
from ..errors import PgxInputError
from ..fda_guidance import SOURCE as FDA_SOURCE
from ..fda_guidance import fda_priority
from ..guidance import ORDER_TEST
from ..model.registry import MODELS
from .memo import KeyedMemo, SharedForm

GENOME_BUILD = "GRCh38"

# CFTR's reference allele in PharmCAT's definitions; the report names CFTR results by their variants instead.
CFTR_REFERENCE = "ivacaftor non-responsive CFTR sequence"
# Genes with guidance that an SNV VCF can never type: they only exist as outside calls.
OUTSIDE_ONLY_GENES = ("HLA-A", "HLA-B")
# What an SNV VCF cannot show even when the gene is called; said plainly on every report.
STRUCTURAL_NOT_ASSESSED = {
    "CYP2D6": (
        "Copy number (whole-gene deletion *5, duplications such as *1x2) and CYP2D6/CYP2D7 hybrid alleles "
        "(*13, *36, *68) were NOT assessed: an SNV VCF cannot show them. A deletion or duplication would change "
        "the phenotype. Supply an outside call from a copy-number-aware caller to cover them."
    ),
}
HLA_NOT_ASSESSED = (
    "HLA alleles cannot be typed from an SNV VCF and no outside call was supplied, so this gene was NOT assessed. "
    "Order HLA typing before prescribing the drugs listed."
)

GENE_STATUS_LABELS = {
    "called": "Called",
    "ambiguous": "Ambiguous",
    "outside_call": "Outside call",
    "not_called": "Not called",
    "not_assessed": "Not assessed",
}
GUIDANCE_STATUS_LABELS = {
    "matched": "Recommendation found",
    "no_recommendation": "No recommendation for this genotype",
    "gene_not_called": "No recommendation: gene not called",
    "gene_not_assessed": "No recommendation: gene not assessed",
    "ambiguous": "No single recommendation: genotype ambiguous",
    "not_matched": "Not in the FDA's affected subgroup",
    "not_evaluated": "FDA: see label, not evaluated for this genotype",
}
# Traffic light: the label is the message, the colour only repeats it.
PRIORITIES = {
    "act": ("Act", "Guideline recommends changing the drug or dose"),
    "consider": ("Consider", "Guideline suggests a change or extra care; weaker evidence or optional"),
    "confirm": ("Confirm genotype", "The genotype is ambiguous and one of its possibilities changes prescribing: "
                                    "confirm it before acting"),
    "incomplete": ("Incomplete", "A gene this drug's guideline needs was not tested, could not be called or is "
                                 "ambiguous (or CYP2D6 copy number was not tested): the advice is incomplete until "
                                 "the test named on the row is done"),
    "info": ("Info", "The FDA table lists a pharmacokinetic effect for this genotype (section 3) and states no "
                     "prescribing change"),
    "standard": ("Standard", "No change for this genotype: the guideline gives the advice a patient with typical "
                             "(reference) genotypes gets, or says standard prescribing, and every gene it needs "
                             "was tested"),
    "none": ("No guidance", "The guideline has no recommendation for this genotype"),
}
PRIORITY_ORDER = {k: i for i, k in enumerate(PRIORITIES)}
STRONG_CLASSES = {"strong", "moderate"}
# Recommendations that say "no change" even when a dosing flag is set on them.
NO_CHANGE_TEXT = re.compile(
    r"no action is (needed|required)|no reason to (adjust|change)|no need to avoid", re.IGNORECASE)
# No pattern for "standard dose": it stands inside changes too ("Use 50% of the standard dose", "increase starting
# dose 1.5 to 2 times recommended starting dose"); whether advice is the usual one is decided by comparing it with
# the reference patient's (`same_as_reference`, from the guidance stage).
# DPWG states no strength (its classification is "N/A"); its rows are labelled by their content and flags.  A
# flagged row (dose change or another drug) is Act when it directs a change unconditionally ("avoid clopidogrel",
# "choose an alternative", "use 50% of the standard dose", "avoid tegafur or start with a low dose"), and Consider
# when it only says to be alert, to monitor, or to change if something else happens ("In the case of inadequate
# effectiveness: try a dose increase. If this does not help: choose an alternative").
DPWG_ACT_TEXT = re.compile(
    r"^(avoid\b|choose an alternative|select an alternative|use an alternative|do not (use|prescribe|select|give)\b"
    r"|.*\bcontraindicated\b"
    r"|.*\b(reduce|increase|double|lower|halve) the (initial |starting |normal |standard |maintenance )?dose\b"
    r"|.*\b(use|start with|give|administer|initiate with)\s+\d+(\.\d+)?\s*((-|–|to)\s*\d+(\.\d+)?\s*)?%"
    r"|.*\b(use|start with|give|administer)\s+\d+(\.\d+)? times\b"
    r"|.*\b(use|prescribe|give|administer) no more than\b|.*\bdo not exceed\b|.*\buse the maximum dose\b"
    r"|.*\b(use|prescribe|give|administer) (half|a third|a quarter) of\b|.*\b\d+(\.\d+)?(-fold|x) higher\b"
    r"|.*\bor avoid\b"
    r"|.*\bstart with an? (very )?(low|lower|reduced)\b)", re.IGNORECASE)
# A sentence that makes its advice depend on something else happening first.
CONDITIONAL = re.compile(r"^(if|in the case|in case|when|should|for patients who)\b", re.IGNORECASE)
# DPWG heads advice with the indication in capitals ("PERCUTANEOUS CORONARY INTERVENTION, STROKE or TIA: ...") or
# "For PAIN:"; the directive follows it.
INDICATION_HEAD = re.compile(r"^(?:[Ff]or |Indication )?[A-Z][A-Z0-9 ,/()'-]*(?: or [A-Z0-9 ,/()'-]+)*:\s*|^[Ff]or [^:]{1,60}:\s*")
MAX_LISTED_POSITIONS = 12
# CPIC's population codes in plain words (the JSON keeps the code in `population`).
POPULATION_WORDS = {
    "CBZ naive": "not yet taking carbamazepine",
    "CBZ use >3mos": "taking carbamazepine for more than 3 months",
    "CBZ-no alternatives": "carbamazepine when there is no alternative",
    "CVI ACS PCI": "cardiovascular indication: acute coronary syndrome or percutaneous coronary intervention",
    "CVI non-ACS non-PCI": "cardiovascular indication without acute coronary syndrome or coronary intervention",
    "NVI": "neurovascular indication (e.g. stroke, transient ischaemic attack)",
    "OXC naive": "not yet taking oxcarbazepine",
    "OXC use >3 mos": "taking oxcarbazepine for more than 3 months",
    "PHT naive": "not yet taking phenytoin",
    "PHT use >3mos": "taking phenytoin for more than 3 months",
    "child >40kg_adult": "adults and children over 40 kg",
}


def population_text(population: str | None) -> str | None:
    if population in (None, "", "general"):
        return None
    return POPULATION_WORDS.get(population, population)


# Guidelines whose advice is an algorithm, not a lookup by genotype: what they say, in place of "no recommendation".
NO_LOOKUP = "gives no genotype lookup"
ALGORITHM_ADVICE = {
    ("CPIC", "warfarin"): (
        "CPIC's advice is to calculate the dose with a validated pharmacogenetic dosing algorithm that uses the "
        "CYP2C9 and VKORC1 genotypes (e.g. IWPC or Gage), following figure 2 of the CPIC warfarin guideline, which "
        "also adjusts for CYP4F2 and for African ancestry"),
}


# ---------------------------------------------------------------- value helpers
def _s(v: Any) -> str | None:
    """A clean string or None: pandas hands back NaN/None/numpy scalars from Parquet."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    text = str(v)
    return text if text.strip() else None


def _l(v: Any) -> list:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [x.item() if hasattr(x, "item") else x for x in list(v)]


def _b(v: Any) -> bool:
    return bool(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else False


def _b_or_none(v: Any) -> bool | None:
    """A nullable flag kept nullable: unknown is not the same as no."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)


def _f(v: Any) -> float | None:
    if v is None:
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _i(v: Any) -> int | None:
    f = _f(v)
    return None if f is None else int(f)


def _dedup(items) -> list:
    return list(dict.fromkeys(i for i in items if i))


# ---------------------------------------------------------------- loading
@dataclass
class InputTables:
    """Everything the reports of one input need, read once and grouped by sample."""

    input_id: str
    results_dir: Path
    samples: pd.DataFrame
    calls: DistinctRows
    phenotypes: DistinctRows
    guidance: DistinctRows
    predictions: SampleRows | None
    genotypes: GenotypeRows
    kb: dict[str, str] = field(default_factory=dict)
    rsids: dict[tuple[str, int], str] = field(default_factory=dict)
    # drug -> model_card.html of every model trained in this results folder
    model_cards: dict[str, Path] = field(default_factory=dict)

    @cached_property
    def sample_records(self) -> dict[str, dict]:
        """Each sample's row of the samples table (the first, should an id repeat), as a plain record."""
        out: dict[str, dict] = {}
        for r in _records(self.samples):
            out.setdefault(str(r["sample_id"]), r)
        return out

    @cached_property
    def predicted_drugs(self) -> set[str]:
        """Drugs whose model ran on this input (rows in its predictions, predicted or not)."""
        return set(self.predictions.frame["drug"]) if self.predictions is not None else set()

    @cached_property
    def model_drugs(self) -> list[str]:
        """Drugs with a model: trained in this results folder (a card) or present in this input's predictions."""
        return sorted(self.predicted_drugs | set(self.model_cards))


# What the report shows of the genotypes table (the evidence table and unphased counts); the VCF's own ALT
# lists and the other columns stay on disk.
GENOTYPE_COLUMNS = ["sample_id", "gene", "position", "chromosome", "state", "allele1", "allele2", "phased", "depth",
                    "filter"]


# ~1,400 rows a patient, few distinct values per column: decoded once from Parquet's dictionaries.
GENOTYPE_TEXTS = ["sample_id", "gene", "chromosome", "state", "allele1", "allele2", "filter", "input_id"]


class SampleRows:
    """A stage table's rows per sample, taken when a sample's report is built.

    A frame per sample made up front (groupby) doubled the report job's memory: 1.4 GB for a part of 1,601
    1000 Genomes samples, over the rule's declared mem_mb.
    """

    def __init__(self, table: pa.Table | pd.DataFrame) -> None:
        # One stable sort by sample, then each sample is a slice: a view, neither a copy nor a gather per report.
        table = _arrow(table)
        order, self._slices = _sample_slices(table["sample_id"])
        self.frame = table.take(order).to_pandas()

    def records(self, sample_id: str) -> list[dict]:
        """The sample's rows as plain records (nulls as None), in table order."""
        span = self._slices.get(sample_id)
        return [] if span is None else self._records[span[0]:span[1]]

    @cached_property
    def _records(self) -> list[dict]:
        return _records(self.frame)


def _arrow(table: pa.Table | pd.DataFrame) -> pa.Table:
    """A stage table as read; a pandas frame (as tests build them) goes through Arrow the same way."""
    return pa.Table.from_pandas(table, preserve_index=False) if isinstance(table, pd.DataFrame) else table


def _sample_slices(sample_ids: pa.ChunkedArray) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """The rows' order grouped by sample (stable), and each sample's slice of it."""
    codes, first = _first_seen(_column_codes(sample_ids))
    names = sample_ids.take(first).to_pylist()
    counts = np.bincount(codes, minlength=len(names))
    slices = {str(n): (int(e - c), int(e)) for n, e, c in zip(names, np.cumsum(counts), counts)}
    return np.argsort(codes, kind="stable"), slices


class DistinctRows:
    """A stage table's rows per sample, for a table whose rows repeat from patient to patient (guidance: one drug, guideline and
    phenotype; genotypes: one position and genotype), read as plain records: each distinct row, i.e. every column
    but the sample's, becomes one record shared by every patient who has it, and `derive` (the report's form of a
    row) runs once per distinct row.

    A part of 1,601 panel patients has 438,625 guidance and ~2.2 M genotype rows; converting each patient's slice to
    records cost a third of the report rule's context time.  Records and derived forms are shared: callers never
    change them.
    """

    def __init__(self, table: pa.Table | pd.DataFrame, derive=None) -> None:
        # The stage tables stay in Arrow: rows are coded from Arrow's dictionaries and offsets, and only the
        # distinct rows (~1,700 of ~1.9 M genotype rows in a part) become pandas objects.
        table = _arrow(table)
        order, self._slices = _sample_slices(table["sample_id"])
        content = table.drop_columns(["sample_id"])
        codes, first = _row_codes(content)
        self._codes = codes[order]
        self._distinct = _records(_rows_as_pandas(content, first)) if table.num_rows else []
        self._derive = derive
        self._derived: dict[int, Any] = {}
        # Forms a caller makes from a distinct row and the patient's context, keyed by (row code, ...): kept here,
        # with the rows they come from, never beyond them.
        self.memo: dict[tuple, Any] = {}

    def records(self, sample_id: str) -> list[dict]:
        """The sample's rows, in table order (shared records: read, never change)."""
        span = self._slices.get(sample_id)
        return [] if span is None else [self._distinct[c] for c in self._codes[span[0]:span[1]].tolist()]

    def sample_codes(self, sample_id: str) -> np.ndarray:
        """The codes of the sample's distinct rows, in table order (equal codes: equal rows)."""
        span = self._slices.get(sample_id)
        return self._codes[0:0] if span is None else self._codes[span[0]:span[1]]

    def record(self, code: int) -> dict:
        """The shared record of a distinct row."""
        return self._distinct[code]

    def derived(self, sample_id: str) -> list:
        """`derive(record)` for each of the sample's rows, in table order."""
        span = self._slices.get(sample_id)
        if span is None:
            return []
        out, done = [], self._derived
        for c in self._codes[span[0]:span[1]].tolist():
            d = done.get(c)
            if d is None:
                d = done[c] = self._derive(self._distinct[c])
            out.append(d)
        return out


class GenotypeRows(DistinctRows):
    """The genotypes table per sample, with each distinct row's gene, position and unphased-het flag as arrays: a
    patient's ~1,400 rows are ordered and cut per gene by numpy, and a gene's block of rows, alike across most of a
    cohort, becomes one shared form (`_matching`)."""

    def __init__(self, table: pa.Table | pd.DataFrame) -> None:
        super().__init__(table)
        rows = self._distinct
        # Gene ranks in name order, so (rank, position) sorts as (gene, position) does.
        self.gene_names = sorted({r["gene"] for r in rows})
        rank = {g: i for i, g in enumerate(self.gene_names)}
        self.gene = np.array([rank[r["gene"]] for r in rows], dtype=np.int64)
        self.position = np.array([int(r["position"]) for r in rows], dtype=np.int64)
        self.unphased_het = np.array([_is_unphased_het(r) for r in rows], dtype=bool)


def _is_unphased_het(r: dict) -> bool:
    return (r["state"] == "called" and not _b(r["phased"]) and r["allele2"] is not None
            and r["allele1"] != r["allele2"])


def _row_codes(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """An integer per row, equal for rows equal in every column (lists compared by value, nulls equal), numbered
    in order of first appearance, and the first row of each code."""
    codes, span = np.zeros(table.num_rows, dtype=np.int64), 1
    for column in table.columns:
        col = _column_codes(column)
        k = int(col.max(initial=0)) + 1
        if span * k >= 2**62:  # renumbered densely before the combined number could overflow
            codes = pd.factorize(codes)[0]
            span = int(codes.max(initial=0)) + 1
        # (row so far, this column) as one number, in place: a part's genotypes are ~1.9 M rows
        codes *= k
        codes += col
        span *= k
    return _first_seen(codes)


def _first_seen(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`codes` renumbered 0, 1, ... in order of first appearance, and the row where each number first appears."""
    codes = pd.factorize(codes)[0]
    if not len(codes):
        return codes, codes
    # Numbered by first appearance, a row is a code's first exactly where the running maximum grows.
    running = np.maximum.accumulate(codes)
    return codes, np.flatnonzero(np.r_[True, running[1:] > running[:-1]])


def _column_codes(col: pa.ChunkedArray) -> np.ndarray:
    """An integer per row, equal for equal values: nulls equal each other, lists are equal item by item."""
    if not len(col) or pa.types.is_null(col.type):
        return np.zeros(len(col), dtype=np.int64)
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        col = _list_keys(col)
    if not pa.types.is_dictionary(col.type):  # a dictionary-encoded read already has its codes
        col = pc.dictionary_encode(col)
    # Each chunk of a Parquet read comes with its own dictionary.  Were a value ever listed twice in one, its rows
    # would get two codes: kept apart (two equal records), never merged.
    col = col.unify_dictionaries()
    null = len(col.chunk(0).dictionary)  # a null row: the code after every value's
    indices = pa.chunked_array([c.indices for c in col.chunks], type=col.type.index_type)
    return pc.fill_null(indices, null).to_numpy()


def _list_keys(col: pa.ChunkedArray) -> pa.Array:
    """Each list as one binary value made of its items' codes (4 bytes each): equal lists give equal values, and no
    two different lists can (a null list stays null, [] is b"", and no separator can occur in an item)."""
    lists = col.combine_chunks()
    # `offsets` are the (sliced) array's own, and they point into the whole of `values`.
    items = _column_codes(pa.chunked_array([lists.values])).astype(np.int32, copy=False)
    offsets = lists.offsets.to_numpy().astype(np.int64) * items.itemsize
    keys = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(lists),
                                            [None, pa.py_buffer(offsets), pa.py_buffer(items)])
    return pa.chunked_array([pc.if_else(lists.is_null(), pa.scalar(None, pa.large_binary()), keys)])


def _rows_as_pandas(table: pa.Table, rows: np.ndarray) -> pd.DataFrame:
    """Some rows of a table as pandas makes them when it converts the whole table: integers with a null anywhere in
    the column (or, in a list column, in any list) come out as floats, 3.0 and NaN, in every row."""
    part = table.take(rows)
    for i, col in enumerate(table.columns):
        t = col.type
        if pa.types.is_integer(t) and col.null_count:
            part = part.set_column(i, table.field(i).name, part.column(i).cast(pa.float64()))
        elif pa.types.is_list(t) and pa.types.is_integer(t.value_type) and pc.list_flatten(col).null_count:
            part = part.set_column(i, table.field(i).name, part.column(i).cast(pa.list_(pa.float64())))
    return part.to_pandas()


def _required(path: Path, table: schema.Table, categories: list[str] | None = None) -> pa.Table:
    if not path.is_file():
        raise PgxInputError(f"{table.name} table not found; run the stage that makes it before the report", path=path)
    return schema.read_arrow(path, table, categorical=categories)


# The guidance table's texts repeat for every patient with the same result (~270 rows a patient, 438,625 in a part
# of 1,601): read from Parquet's dictionaries, each text is decoded once.
GUIDANCE_TEXTS = [c.name for c in schema.GUIDANCE.columns
                  if c.type == "string" and c.name not in ("sample_id", "input_id")]


def kb_info(results_dir: str | os.PathLike) -> dict[str, str]:
    """Knowledge-base version and provenance, from the metadata every knowledge table carries.

    The mirror folders' machine paths stay out of the report: each is named by what its PROVENANCE.md says (title,
    upstream commit and date), a stale one as "guideline texts from the YYYY-MM release"."""
    kb_dir = Path(results_dir) / "knowledge"
    for name in ("guidance", "genes", "diplotype_phenotypes", "allele_functions"):
        path = kb_dir / f"{name}.parquet"
        if path.is_file():
            meta = schema.read_metadata(path)
            stale_files = meta.get("stale_files", "")
            roots = [r for r in str(meta.get("source", "")).split(";") if r.strip()]
            provenance = [x for x in (_provenance(Path(r), bool(stale_files)) for r in roots) if x["text"]]
            return {
                "data_version": meta.get("data_version", "unknown"),
                "provenance": "; ".join(x["text"] for x in provenance) or "unknown",
                "older_release": "; ".join(x["older"] for x in provenance if x["older"]),
            }
    raise PgxInputError("no knowledge-base table found; build the knowledge base first", path=kb_dir)


_COMMIT = re.compile(r"`([0-9a-f]{40})`\s*\((\d{4}-\d{2})(-\d{2})?")


def _provenance(root: Path, any_stale: bool) -> dict[str, str]:
    """{'text': 'PharmGKB/PharmCAT data files (v3.1.1), upstream commit 5431bf1 (2025-11)', 'older': ''}; a folder
    without PROVENANCE.md is named by its last path component only."""
    prov = root / "PROVENANCE.md"
    if not prov.is_file():
        return {"text": root.name or "unknown", "older": ""}
    text = prov.read_text(encoding="utf-8", errors="replace")
    title = text.splitlines()[0].lstrip("# ").removeprefix("Provenance: ").strip() if text else root.name
    m = _COMMIT.search(text)
    commit = f", upstream commit {m.group(1)[:7]} ({m.group(2)})" if m else ""
    if "stale" in text[:400].lower():
        if not any_stale:
            return {"text": "", "older": ""}  # declared stale, nothing read from it
        # What the clinician needs: which texts are older, and from when.
        older = f"guideline texts from the {m.group(2)} release" if m else "some guideline texts from an older release"
        return {"text": older + (f" (upstream commit {m.group(1)[:7]})" if m else ""), "older": older}
    return {"text": f"{title}{commit}", "older": ""}


# Upstream message texts that name sections or tools this report does not have, in this report's words.
MESSAGE_REWRITES = [
    (re.compile(r"PharmCAT Named Allele Matcher does not determine HLA status\."),
     "HLA status cannot be determined from the VCF (see What was NOT assessed)."),
    (re.compile(r"please refer to the RYR1 gene table in section III for the variants included in the input VCF file"),
     "see the RYR1 allele-matching details in this report for the variants found in the input file"),
    (re.compile(r"If the RYR1 genotype is “not called” and the drug section reports RYR1:Unknown/Unknown,"),
     "If RYR1 could not be called,"),
    (re.compile(r"(PharmCAT )?Named Allele Matcher"), "allele matcher"),
    (re.compile(r"PharmCAT found multiple possible genotypes"), "Several possible genotypes were found"),
    (re.compile(r"\s*See PharmCAT disclaimer for further information\."), ""),
]


def clinical_message(text: str) -> str:
    """A knowledge-base message as the report shows it: references to PharmCAT's own report sections and tools
    rewritten, and whatever still speaks of PharmCAT attributed to it."""
    for pattern, repl in MESSAGE_REWRITES:
        text = pattern.sub(repl, text)
    return f"Note from PharmCAT: {text}" if "PharmCAT" in text else text


def load_input_tables(results_dir: str | os.PathLike, input_id: str, part: str = "part-000",
                      unit: str | None = None) -> InputTables:
    """Read one part of one input (see `sharding`); `unit` names the batch holding it when it is not its own unit.
    Predictions are optional: no model may be configured."""
    tables = load_unit_tables(results_dir, unit or input_id, part)
    if input_id not in tables:
        raise PgxInputError(f"no ingested samples for input {input_id!r} {part}; run the earlier stages first",
                            path=sharding.ingest_dir(results_dir, unit or input_id))
    return tables[input_id]


def load_unit_tables(results_dir: str | os.PathLike, unit: str, part: str = "part-000") -> dict[str, InputTables]:
    """Input id -> its tables, for one part of a work unit (an input's part, or a batch of small inputs), each stage
    table read once and split by input: a patient is (input, sample)."""
    root = Path(results_dir)
    sample_files = sharding.group_files(root, unit, part, "samples")
    if not sample_files:
        raise PgxInputError(f"no ingested samples for unit {unit!r} {part}; run the earlier stages first",
                            path=sharding.ingest_dir(root, unit))
    samples = sharding.read_samples(sample_files)
    genotypes = sharding.read_genotype_table(sharding.group_files(root, unit, part, "genotypes"),
                                             [*GENOTYPE_COLUMNS, "input_id"], categorical=GENOTYPE_TEXTS)
    calls = _required(sharding.stage_file(root, "calls", unit, part), schema.CALLS)
    phenotypes = _required(sharding.stage_file(root, "phenotypes", unit, part), schema.PHENOTYPES)
    guidance = _required(sharding.stage_file(root, "guidance", unit, part), schema.GUIDANCE, GUIDANCE_TEXTS)
    pred_path = sharding.stage_file(root, "predictions", unit, part)
    predictions = schema.read_arrow(pred_path, schema.PREDICTIONS) if pred_path.is_file() else None
    rsids: dict[tuple[str, int], str] = {}
    pos_path = root / "knowledge" / "positions.parquet"
    if pos_path.is_file():
        pos = schema.read_table(pos_path, schema.KB_POSITIONS, columns=["gene", "position", "rsid"])
        rsids = {(g, int(p)): r for g, p, r in zip(pos["gene"], pos["position"], pos["rsid"]) if _s(r)}
    cards = {p.parent.name: p for p in sorted((root / "model").glob("*/model_card.html"))}
    kb = kb_info(root)
    input_ids = list(dict.fromkeys(samples["input_id"]))
    by_input = _split_by_input(input_ids, unit, samples=samples, genotypes=genotypes, calls=calls,
                               phenotypes=phenotypes, guidance=guidance, predictions=predictions)
    return {
        input_id: InputTables(
            input_id=input_id,
            results_dir=root,
            samples=t["samples"].reset_index(drop=True),
            calls=DistinctRows(t["calls"]),
            phenotypes=DistinctRows(t["phenotypes"]),
            guidance=DistinctRows(t["guidance"], derive=_guideline_form),
            predictions=SampleRows(t["predictions"]) if t["predictions"] is not None else None,
            genotypes=GenotypeRows(t["genotypes"]),
            kb=kb,
            rsids=rsids,
            model_cards=cards,
        )
        for input_id, t in by_input.items()
    }


def _split_by_input(input_ids: list[str], unit: str, **frames: pd.DataFrame | pa.Table | None) -> dict[str, dict]:
    """Each frame's (or Arrow table's) rows per input (a frame of a one-input unit is all that input's)."""
    out: dict[str, dict] = {i: {} for i in input_ids}
    for name, df in frames.items():
        arrow = isinstance(df, pa.Table)
        if df is None or len(input_ids) == 1:
            split = {input_ids[0]: df}
        else:
            split = sharding.table_rows_by_input(df, unit) if arrow else sharding.rows_by_input(df, unit)
        for i in input_ids:
            out[i][name] = None if df is None else split.get(i, df.slice(0, 0) if arrow else df.iloc[0:0])
    return out


# ---------------------------------------------------------------- per sample
def sample_contexts(
    tables: InputTables, *, report_date: str, model_card_hrefs: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """One context per sample of the input, in the samples table's order."""
    for row in tables.samples.itertuples(index=False):
        yield build_sample_context(tables, row.sample_id, report_date=report_date, model_card_hrefs=model_card_hrefs)


def input_build_text(s: Mapping[str, Any]) -> str:
    """The build line of the report: a GRCh37 input says it was lifted and how many positions could not be."""
    build = _s(s["input_build"]) if "input_build" in s else None
    if build != "GRCh37":
        return GENOME_BUILD
    unlifted = _l(s["unlifted_positions"]) if "unlifted_positions" in s else []
    return ("GRCh37 input, lifted to GRCh38 (" + (f"{len(unlifted)} position(s) could not be lifted: missing)"
                                                  if unlifted else "every allele-defining position lifted)"))


def build_sample_context(
    tables: InputTables, sample_id: str, *, report_date: str, model_card_hrefs: dict[str, str] | None = None
) -> dict[str, Any]:
    """Everything the patient report and its JSON say about one sample."""
    s = tables.sample_records.get(sample_id)
    if s is None:
        raise PgxInputError(f"sample not in the samples table of input {tables.input_id!r}", sample=sample_id)
    calls = tables.calls.records(sample_id)
    phen = tables.phenotypes.records(sample_id)
    guid = tables.guidance.derived(sample_id)
    geno_codes = tables.genotypes.sample_codes(sample_id)
    preds = tables.predictions.records(sample_id) if tables.predictions is not None else []
    ran = tables.predicted_drugs

    header = {
        "sample_id": sample_id,
        "input_id": tables.input_id,
        "report_date": report_date,
        "pipeline_version": __version__,
        "kb_data_version": tables.kb.get("data_version", "unknown"),
        "kb_provenance": tables.kb.get("provenance", "unknown"),
        "kb_older_release": tables.kb.get("older_release", ""),
        "genome_build": input_build_text(s),
        "source_file": _s(s["source_file"]),
        "absent_is_reference": _b(s["absent_is_reference"]),
        "absent_positions": (
            "treated as reference (the input declared that absent positions are reference)"
            if _b(s["absent_is_reference"])
            else "treated as missing (not assumed to be reference)"
        ),
        "status": _s(s["status"]) or "failed",
        "error": _s(s["error"]),
        "input_notes": (_l(s["notes"]) if "notes" in s else [])
        + [f"Not lifted from GRCh37 (missing): {u}" for u in (_l(s["unlifted_positions"]) if "unlifted_positions" in s else [])],
    }
    genes = _genes(calls, phen, _unphased_het_counts(tables.genotypes, geno_codes), tables.rsids)
    drugs = _drugs(guid)
    not_assessed = _not_assessed(genes, guid)
    summary = _summary(drugs, genes, not_assessed)
    ctx = {
        "header": header,
        "summary": summary,
        "gene_overview": _gene_overview(genes, not_assessed, summary),
        "genes": genes,
        "footnotes": _number_footnotes(genes),
        "not_assessed": not_assessed,
        "drugs": drugs,
        "models": [_model_estimate(drug, preds, drugs, (model_card_hrefs or {}).get(drug), drug in ran)
                   for drug in tables.model_drugs],
        "matching": _matching(tables.genotypes, geno_codes, tables.rsids, calls),
        "messages": _dedup(m for d in drugs for g in d["guidelines"] for m in g["messages"]),
    }
    _number_messages(drugs)
    return ctx


# ---------------------------------------------------------------- genes
def _by_gene(rows: list[dict]) -> dict[str, list[dict]]:
    """A sample's rows per gene, each gene's in candidate order."""
    out: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (r["gene"], r["candidate"])):
        out.setdefault(r["gene"], []).append(r)
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, nulls as None, built column-wise: 2.5x faster than
    `to_dict("records")` on the Arrow-backed string columns the tables are read with."""
    names = list(df.columns)
    arrays = [df[c].to_numpy(dtype=object, na_value=None) for c in names]
    return [dict(zip(names, values)) for values in zip(*arrays)]


def _genes(calls: list[dict], phen: list[dict], het_unphased: dict[str, int], rsids: dict) -> list[dict]:
    if not calls:
        return []
    phen_by_gene = _by_gene(phen)
    return [_gene(gene, rows, phen_by_gene.get(gene, []), het_unphased.get(gene, 0), rsids)
            for gene, rows in sorted(_by_gene(calls).items())]


def _unphased_het_counts(geno: GenotypeRows, codes: np.ndarray) -> dict[str, int]:
    """Heterozygous positions called without phase, per gene."""
    counts = np.bincount(geno.gene[codes[geno.unphased_het[codes]]], minlength=len(geno.gene_names))
    return {geno.gene_names[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def _shown_diplotype(gene: str, diplotype: str | None) -> str | None:
    """CFTR as PharmCAT reports it, by its variants: "No CPIC variants found", "G551D (heterozygous)"; the called
    diplotype names the reference sequence ("ivacaftor non-responsive CFTR sequence"), which reads as a finding."""
    if gene != "CFTR" or not diplotype:
        return diplotype
    variants = [a for a in diplotype.split("/") if a != CFTR_REFERENCE]
    if not variants:
        return "No CPIC variants found"
    if len(variants) == 1:
        return f"{variants[0]} (heterozygous)"
    return f"{variants[0]} (homozygous)" if variants[0] == variants[1] else "/".join(variants)


def _gene(gene: str, calls: list[dict], phen: list[dict], n_unphased_het: int, rsids: dict) -> dict:
    top = calls[0]
    status = _s(top["status"]) or "not_called"
    n = _i(top["n_candidates"]) or 0
    by_candidate = {int(r["candidate"]): r for r in phen}
    candidates = []
    for c in calls:
        pr = by_candidate.get(int(c["candidate"]))
        candidates.append({
            "diplotype": _s(c["diplotype"]),
            "score": _i(c["score"]),
            "phenotype": _s(pr["phenotype"]) if pr is not None else _s(c["outside_phenotype"]),
            "activity_score": _s(pr["activity_score"]) if pr is not None else _s(c["outside_activity_score"]),
            "allele1_function": _s(pr["allele1_function"]) if pr is not None else None,
            "allele2_function": _s(pr["allele2_function"]) if pr is not None else None,
            "lookup_key": _s(pr["lookup_key"]) if pr is not None else None,
        })
    first = candidates[0]
    agree = _b(by_candidate[1]["candidates_agree"]) if 1 in by_candidate else n <= 1
    display_status = "ambiguous" if status == "called" and n > 1 else status
    missing = sorted(int(x) for x in _l(top["missing_positions"]))
    warnings = _dedup(_l(top["warnings"]) + (_l(by_candidate[1]["warnings"]) if 1 in by_candidate else []))

    phenotype, activity, functions = first["phenotype"], first["activity_score"], None
    if display_status == "ambiguous" and not agree:
        phenotype, activity = "Indeterminate: candidates differ (see note)", None
    if display_status in ("called", "outside_call"):
        functions = [f for f in (first["allele1_function"], first["allele2_function"]) if f] or None
    if display_status in ("not_called", "not_assessed"):
        phenotype = activity = None

    notes = []
    if display_status == "ambiguous":
        listed = "; ".join(f"{c['diplotype']} ({c['phenotype'] or 'phenotype unknown'})" for c in candidates)
        notes.append(
            f"{n} diplotypes fit the data equally well: {listed}. "
            + ("They all give the same phenotype, so the guidance below applies to each of them."
               if agree else "They give different phenotypes: the guidance below gives each candidate's advice "
               "where it differs; confirm the genotype before acting on it.")
        )
    if gene in VARIANT_LIST_GENES and display_status in ("called", "ambiguous") and _s(top["source"]) != "outside":
        notes.append(
            f"{gene} is reported as PharmCAT reports it, by the variants found: \"[a + b]\" = variants on the same "
            "chromosome; \"Reference\" = a chromosome with none of the defined variants; \"a AND b\" = variants found "
            "in unphased data, chromosome unknown. The allele functions shown are those of the pair the phenotype is "
            "taken from (see the note below)."
        )
    if missing:
        where = ", ".join(_pos_label(gene, p, rsids) for p in missing[:MAX_LISTED_POSITIONS])
        more = f" and {len(missing) - MAX_LISTED_POSITIONS} more" if len(missing) > MAX_LISTED_POSITIONS else ""
        notes.append(
            f"{len(missing)} allele-defining position(s) had no usable genotype ({where}{more}). Alleles defined "
            "there could not be detected"
            # No call was made, so there is no call to assume anything (issue 19: the two sentences contradicted).
            + ("." if display_status in ("not_called", "not_assessed") else "; the call assumes none of them is present.")
        )
    if status == "called" and not _b(top["phased"]) and n_unphased_het >= 2:
        notes.append(
            f"Unphased data: {n_unphased_het} heterozygous positions without phase. Which variants sit on the same "
            "chromosome was inferred, not observed."
        )
    if status == "outside_call":
        notes.append("Outside call: this result was supplied by another test or tool, not made from the VCF.")
    if status == "not_called":
        notes.append("No diplotype could be called from the data (see the notes and allele-matching details).")
    if status == "not_assessed":
        notes.append(f"{gene} was NOT assessed for this patient.")
    if gene in STRUCTURAL_NOT_ASSESSED and status != "outside_call":
        notes.append(STRUCTURAL_NOT_ASSESSED[gene])
    # Call warnings the notes above do not already say in plainer words.
    covered = re.compile(r"^ambiguous: |allele-defining position\(s\) missing|copy number .*NOT assessed")
    notes.extend(w for w in warnings if not covered.search(w))

    return {
        "gene": gene,
        "status": display_status,
        "status_label": GENE_STATUS_LABELS.get(display_status, display_status),
        "diplotype": _shown_diplotype(gene, first["diplotype"]) if display_status in ("called", "outside_call") else None,
        "called_diplotype": first["diplotype"],
        "n_candidates": n,
        "candidates": candidates if display_status == "ambiguous" else [],
        "candidates_agree": agree,
        "allele_functions": functions,
        "phenotype": phenotype,
        "activity_score": activity,
        "phased": _b(top["phased"]),
        "source": _s(top["source"]) or "vcf",
        "missing_positions": missing,
        "notes": _dedup(notes),
    }


def _pos_label(gene: str, pos: int, rsids: dict) -> str:
    rs = rsids.get((gene, pos))
    return f"{pos:,} ({rs})" if rs else f"{pos:,}"


def _number_footnotes(genes: list[dict]) -> list[dict]:
    """Number every gene note once, in table order; genes keep the numbers they point to."""
    foot = []
    for g in genes:
        g["footnote_ids"] = []
        for text in g["notes"]:
            foot.append({"id": len(foot) + 1, "gene": g["gene"], "text": text})
            g["footnote_ids"].append(len(foot))
    return foot


def _not_assessed(genes: list[dict], guid: list[tuple[str, dict]]) -> list[dict]:
    """What was NOT assessed, in plain words, with the drugs it leaves without guidance."""
    called = {g["gene"]: g for g in genes}
    drugs_by_gene: dict[str, set[str]] = {}
    for drug, g in guid:
        for gene in g["genes"]:
            drugs_by_gene.setdefault(gene, set()).add(drug)
    out = []
    for gene in OUTSIDE_ONLY_GENES:
        g = called.get(gene)
        if g is None or g["status"] in ("not_assessed", "not_called"):
            out.append({"gene": gene, "what": HLA_NOT_ASSESSED, "drugs": sorted(drugs_by_gene.get(gene, ()))})
    for gene, text in STRUCTURAL_NOT_ASSESSED.items():
        g = called.get(gene)
        if g is not None and g["status"] != "outside_call":
            out.append({"gene": gene + " structural variants", "what": text, "drugs": sorted(drugs_by_gene.get(gene, ()))})
    listed = {o["gene"] for o in out}
    for g in genes:
        if g["status"] == "not_assessed" and g["gene"] not in listed:
            # A failed file of a split group: the call's warning names the file and the reason.
            why = next((n[len("not assessed: "):] for n in g["notes"] if n.startswith("not assessed: ")), None)
            out.append({"gene": g["gene"], "what": f"{g['gene']} was NOT assessed: {why}." if why else
                        f"{g['gene']} was NOT assessed.",
                        "drugs": sorted(drugs_by_gene.get(g["gene"], ()))})
    for gene in sorted({x for _, g in guid if g["status"] == "gene_not_assessed" for x in g["genes"]}):
        if gene not in listed and gene not in called:
            out.append({"gene": gene, "what": f"{gene} was NOT assessed.", "drugs": sorted(drugs_by_gene.get(gene, ()))})
    return out


# ---------------------------------------------------------------- drugs
def dpwg_directs_change(recommendation: str | None) -> bool:
    """Whether a DPWG recommendation tells the prescriber to change drug or dose without a condition first."""
    for line in (recommendation or "").splitlines():
        for sentence in re.split(r"(?<=[.;])\s+", line.strip()):
            sentence = INDICATION_HEAD.sub("", sentence.strip(), count=1)
            if sentence and not CONDITIONAL.match(sentence) and DPWG_ACT_TEXT.match(sentence):
                return True
    return False


def _priority(status: str, classification: str | None, recommendation: str | None, dosing: bool, alternate: bool,
              other: bool, same_as_reference: bool | None = None, incomplete: str | None = None,
              source: str | None = None) -> str:
    label = _advice_priority(status, classification, recommendation, dosing, alternate, other, same_as_reference,
                             source)
    # Advice a missing, untyped or ambiguous gene (or CYP2D6's untested copy number) could change is never green:
    # it keeps a stronger label (the row says what is missing), else it is Incomplete.
    if incomplete and label in ("standard", "none"):
        return "incomplete"
    return label


def _advice_priority(status: str, classification: str | None, recommendation: str | None, dosing: bool,
                     alternate: bool, other: bool, same_as_reference: bool | None, source: str | None = None) -> str:
    if status == "ambiguous" and recommendation:
        # One candidate's advice (the guidance stage made candidates that share advice a match).
        inner = _advice_priority("matched", classification, recommendation, dosing, alternate, other, same_as_reference,
                                 source)
        return "confirm" if inner in ("act", "consider") else "incomplete"
    if status != "matched":
        return "none" if status == "no_recommendation" else "incomplete"
    if same_as_reference:
        # CPIC sets dosing flags on normal-metabolizer advice too; what a patient with reference genotypes gets
        # is, by definition, not a change driven by this genotype.
        return "standard"
    if (source or "").upper() == "DPWG":
        if recommendation and NO_CHANGE_TEXT.search(recommendation):
            return "standard"
        if alternate or dosing:
            return "act" if dpwg_directs_change(recommendation) else "consider"
        return "consider" if other else "standard"
    strong = (classification or "").strip().lower() in STRONG_CLASSES
    if alternate:
        return "act" if strong else "consider"
    if recommendation and NO_CHANGE_TEXT.search(recommendation):
        return "standard"
    if dosing:
        return "act" if strong else "consider"
    if other:
        return "consider"
    return "standard"


def row_priority(r: Mapping[str, Any]) -> str:
    """The label of one GUIDANCE row (a record or a Series), as the report, the cohort table and the labels
    benchmark read it."""
    if r.get("source") == FDA_SOURCE:
        return fda_priority(_s(r["status"]) or "not_evaluated", _s(r.get("fda_label")))
    return _priority(_s(r["status"]) or "no_recommendation", _s(r["classification"]), _s(r["recommendation"]),
                     _b(r["dosing_information"]), _b(r["alternate_drug"]), _b(r["other_guidance"]),
                     _b_or_none(r["same_as_reference"]), _s(r["incomplete"]), _s(r["source"]))


def _drugs(guid: list[tuple[str, dict]]) -> list[dict]:
    """One entry per drug, its guideline rows in source order. Each row is the shared, read-only form of a distinct
    guidance row (`DistinctRows`); what is the patient's own, the numbering of its messages, is the drug's
    `message_notes` (`_number_messages`)."""
    by_drug: dict[str, list[dict]] = {}
    for drug, g in guid:
        by_drug.setdefault(drug, []).append(g)
    out = []
    for drug in sorted(by_drug):
        rows = by_drug[drug]
        if all(type(g) is SharedForm for g in rows):  # the same rows as another patient's: the same entry
            entry = _DRUG_ENTRIES.get((drug, *map(id, rows)), rows, lambda: _drug_entry(drug, rows))
        else:
            entry = _drug_entry(drug, rows)
        out.append(dict(entry))  # the patient's own copy: `_number_messages` adds its message numbering
    return out


# A drug's entry, but for the patient's message numbering, made once per distinct set of shared guideline rows.
_DRUG_ENTRIES = KeyedMemo()
_SOURCE_ORDER = {"CPIC": 0, "DPWG": 1, "FDA": 2}


def _drug_entry(drug: str, rows: list[dict]) -> dict:
    gl = sorted(rows, key=lambda g: (_SOURCE_ORDER.get(g["source"], 9), g["guideline"] or ""))
    best = min((g["priority"] for g in gl), key=PRIORITY_ORDER.__getitem__)
    return {
        "drug": drug,
        "anchor": "drug-" + (re.sub(r"[^a-z0-9]+", "-", drug.lower()).strip("-") or "x"),
        "genes": sorted({x for g in gl for x in g["genes"]}),
        "priority": best,
        "priority_label": PRIORITIES[best][0],
        "has_guidance": any(g["shows_advice"] for g in gl),
        "guidelines": gl,
    }


def drug_key(d: dict) -> tuple | None:
    """What a drug entry's report text depends on, for `memo.KeyedMemo`: its guideline rows by identity (shared,
    read-only forms), its own fields and the patient's message numbering. None when a row is not a shared form
    (a context built by hand), whose text must then be made afresh."""
    gl = d["guidelines"]
    # A field this key does not name (one added later) would be left out of the text: no reuse then.
    if d.keys() != _DRUG_KEYS or any(type(g) is not SharedForm for g in gl):
        return None
    notes = tuple(tuple((m["id"], m["text"], m["first"], m["first_drug"]) for m in ms) for ms in d["message_notes"])
    return (tuple(map(id, gl)), d["drug"], d["anchor"], tuple(d["genes"]), d["priority"], d["priority_label"],
            d["has_guidance"], notes)


_DRUG_KEYS = {"drug", "anchor", "genes", "priority", "priority_label", "has_guidance", "guidelines", "message_notes"}


def _guideline_form(r: Mapping[str, Any]) -> tuple[str, dict]:
    """A GUIDANCE row as (drug, its report form): `DistinctRows` makes it once per distinct row."""
    return r["drug"], SharedForm(_make_guideline_row(r))


def _make_guideline_row(r: Mapping[str, Any]) -> dict:
    drug = r["drug"]
    status = _s(r["status"]) or "no_recommendation"
    pr = row_priority(r)
    return {
        "source": _s(r["source"]),
        "guideline": _s(r["guideline"]),
        "guideline_version": _s(r["guideline_version"]),
        "url": _safe_url(_s(r["url"])),
        "genes": _l(r["genes"]),
        "phenotypes": [_gene_colon(x) for x in _l(r["phenotypes"])],
        "lookup_keys": _l(r["lookup_keys"]),
        "population": _s(r["population"]),
        "population_text": population_text(_s(r["population"])),
        "status": status,
        "status_label": ("Advice given as a dosing algorithm, not by genotype"
                         if status == "no_recommendation" and NO_LOOKUP in (_s(r["reason"]) or "")
                         else GUIDANCE_STATUS_LABELS.get(status, status)),
        # Also when a gene is missing (the reason then names it first): the algorithm is still what CPIC advises.
        "algorithm_advice": (ALGORITHM_ADVICE.get((_s(r["source"]), drug.lower()))
                             if NO_LOOKUP in (_s(r["reason"]) or "") else None),
        "recommendation": _s(r["recommendation"]),
        "implications": _l(r["implications"]),
        "classification": _s(r["classification"]),
        "dosing_information": _b(r["dosing_information"]),
        "alternate_drug": _b(r["alternate_drug"]),
        "other_guidance": _b(r["other_guidance"]),
        "same_as_reference": _b_or_none(r["same_as_reference"]),
        "reason": _s(r["reason"]),
        "incomplete": _s(r["incomplete"]),
        "messages": _dedup(clinical_message(m) for m in _l(r["messages"])),
        # a match, or one candidate's advice for an ambiguous genotype
        "shows_advice": status == "matched" or (status == "ambiguous" and bool(_s(r["recommendation"]))
                                                and r.get("source") != FDA_SOURCE),
        "priority": pr,
        "priority_label": PRIORITIES[pr][0],
        "fda_section": _i(r.get("fda_section")),
        "fda_affected_subgroups": _s(r.get("fda_affected_subgroups")),
    }


def _number_messages(drugs: list[dict]) -> None:
    """Give each drug its guidelines' messages as notes the page prints once (`message_notes[i]` for guideline i): a
    message that several drugs carry (a gene's PharmCAT note repeats for every drug of its guideline, up to 9 times
    in a busy panel report) is quoted at its first drug, in the page's order (drugs with advice, then the rest), and
    pointed to from the others."""
    first: dict[str, tuple[int, str]] = {}
    order = [d for d in drugs if d["has_guidance"]] + [d for d in drugs if not d["has_guidance"]]
    for d in order:
        d["message_notes"] = []
        for g in d["guidelines"]:
            notes = []
            for m in g["messages"]:
                seen = m in first
                if not seen:
                    first[m] = (len(first) + 1, d["drug"])
                notes.append({"id": first[m][0], "text": m, "first": not seen, "first_drug": first[m][1]})
            d["message_notes"].append(notes)


def _gene_colon(text: str) -> str:
    """'CYP2C19:Poor Metabolizer' (the guidance table's key form) as readers expect it: 'CYP2C19: Poor Metabolizer'."""
    gene, sep, rest = str(text).partition(":")
    return f"{gene}: {rest.strip()}" if sep else str(text)


def _safe_url(url: str | None) -> str | None:
    """Only plain web links become anchors: a javascript: or data: URL from the data would be an attack."""
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


SUMMARY_PRIORITIES = ("act", "consider", "confirm")
MAX_SUMMARY_ADVICE = 180


@functools.lru_cache(maxsize=50_000)  # a guideline row's text recurs in most patients' summaries
def short_advice(text: str | None) -> str | None:
    """The first sentence of a recommendation for the one-line summary (the drug section quotes it whole)."""
    if not text:
        return None
    parts = [x.strip() for x in re.split(r"(?<=[.!?:])\s+|\n", text.strip()) if x.strip()]
    first = parts[0] if parts else text.strip()
    # A heading ("For PAIN:", "Monitoring by the ANTICOAGULATION CLINIC (...):") is not advice on its own.
    for nxt in parts[1:3]:
        if not first.endswith(":"):
            break
        first = f"{first} {nxt}"
    if len(first) > MAX_SUMMARY_ADVICE:
        first = first[:MAX_SUMMARY_ADVICE].rsplit(" ", 1)[0] + " …"
    return first + (" …" if first != text.strip() and not first.endswith("…") else "")


def _summary(drugs: list[dict], genes: list[dict], not_assessed: list[dict]) -> dict:
    # One row per drug, labelled by its strongest row across CPIC and DPWG; each source's advice is a sub-line.
    by_gene_result = {x["gene"]: x for x in genes}
    actions = []
    for d in drugs:
        if d["priority"] not in SUMMARY_PRIORITIES:
            continue
        lines = []
        for g in d["guidelines"]:
            # A row with no advice because a gene is missing is said once, in the drug's Incomplete note.
            if g["priority"] == "none" or not g["shows_advice"]:
                continue
            lines.append({
                "source": g["source"],
                "priority": g["priority"],
                "priority_label": g["priority_label"],
                "population": g["population_text"],
                "classification": g["classification"] if g["classification"] not in ("N/A", None) else None,
                "advice": short_advice(g["recommendation"]) if g["shows_advice"] else g["status_label"],
                "recommendation": g["recommendation"],
                "reason": g["reason"] if g["status"] == "ambiguous" else None,
            })
        actions.append({
            "incomplete": _dedup(g["incomplete"] for g in d["guidelines"]),
            "drug": d["drug"],
            "anchor": d["anchor"],
            "genes": d["genes"],
            "based_on": [_based_on(gene, by_gene_result.get(gene)) for gene in d["genes"]],
            "priority": d["priority"],
            "priority_label": d["priority_label"],
            "lines": sorted(lines, key=lambda x: (PRIORITY_ORDER[x["priority"]], x["source"] or "")),
        })
    actions.sort(key=lambda a: (PRIORITY_ORDER[a["priority"]], a["drug"]))
    # Drugs whose advice is incomplete, grouped by the gene that made it so: the same drugs "What was NOT
    # assessed" lists for that gene, whether or not another guideline row of the drug gave advice.
    gaps: dict[tuple[str, str], set[str]] = {}
    by_gene = {x["gene"]: x for x in genes}
    for d in drugs:
        for g in d["guidelines"]:
            if not g["incomplete"]:
                continue
            for gene in g["genes"]:
                x = by_gene.get(gene)
                st = x["status"] if x else "not_assessed"
                if st in ("not_called", "not_assessed") or (st == "ambiguous" and not x["candidates_agree"]):
                    gaps.setdefault((gene, GENE_STATUS_LABELS[st]), set()).add(d["drug"])
                elif gene == "CYP2D6" and st == "called" and "copy number was not tested" in g["incomplete"]:
                    gaps.setdefault(("CYP2D6 copy number", "Not tested (SNV VCF)"), set()).add(d["drug"])
    return {
        "actions": actions,
        "gaps": [{"gene": k[0], "reason": k[1], "order": _order_test(k[0]), "drugs": sorted(v)}
                 for k, v in sorted(gaps.items())],
        "n_standard": sum(1 for d in drugs if d["priority"] == "standard"),
        "n_no_guidance": sum(1 for d in drugs if d["priority"] == "none"),
        "n_drugs": len(drugs),
        "not_assessed_genes": [n["gene"] for n in not_assessed],
        "legend": [{"priority": k, "label": v[0], "meaning": v[1]} for k, v in PRIORITIES.items()],
    }


# Phenotypes that are the usual, reference-like result: not marked on the first screen.  CYP3A5 *3/*3 ("Poor
# Metabolizer") is the genotype standard tacrolimus doses were set for (see guidance.REFERENCE_ALLELE_OVERRIDES).
USUAL_PHENOTYPE = re.compile(r"^(normal|uncertain susceptibility|no cpic variants|ivacaftor non-responsive|-1639 GG$)",
                             re.IGNORECASE)
USUAL_BY_GENE = {("CYP3A5", "Poor Metabolizer")}
GENE_MARKS = {
    "not_normal": "not normal",
    "ambiguous": "ambiguous: confirm",
    "not_called": "not called",
    "not_assessed": "not assessed",
    "copy_number": "copy number not tested",
}


def _gene_overview(genes: list[dict], not_assessed: list[dict], summary: dict) -> list[dict]:
    """The first screen's gene table: every gene with its result, marked when not normal, not called, not assessed
    or ambiguous, and CYP2D6 from an SNV VCF marked for its untested copy number."""
    out = []
    cnv_untested = any(n["gene"] == "CYP2D6 structural variants" for n in not_assessed)
    for g in genes:
        marks = []
        st = g["status"]
        if st in ("not_called", "not_assessed"):
            marks.append(st)
        elif st == "ambiguous" and not g["candidates_agree"]:
            marks.append("ambiguous")
        elif g["phenotype"] and not USUAL_PHENOTYPE.match(g["phenotype"]) and (g["gene"], g["phenotype"]) not in USUAL_BY_GENE:
            marks.append("not_normal")
        if g["gene"] == "CYP2D6" and cnv_untested and st not in ("not_called", "not_assessed"):
            marks.append("copy_number")
        result = (" or ".join(c["diplotype"] for c in g["candidates"]) if st == "ambiguous" else g["diplotype"]) or "—"
        out.append({"gene": g["gene"], "result": result, "phenotype": g["phenotype"] or "—", "marks": marks,
                    "mark_labels": [GENE_MARKS[m] for m in marks], "anchor": f"gene-{g['gene']}"})
    listed = {g["gene"] for g in genes}
    for n in not_assessed:
        if n["gene"] not in listed and " " not in n["gene"]:
            out.append({"gene": n["gene"], "result": "—", "phenotype": "—", "marks": ["not_assessed"],
                        "mark_labels": [GENE_MARKS["not_assessed"]], "anchor": "s-not-assessed"})
    return out


def _based_on(gene: str, g: dict | None) -> str:
    """'CYP2C19 *2/*17 (Intermediate Metabolizer)': what a summary row's advice rests on."""
    if g is None:
        return f"{gene} not assessed"
    if g["status"] in ("not_called", "not_assessed"):
        return f"{gene} {g['status_label'].lower()}"
    if g["status"] == "ambiguous":
        return f"{gene} {' or '.join(c['diplotype'] for c in g['candidates'])} ({g['phenotype'] or 'phenotype unknown'})"
    return f"{gene} {g['diplotype'] or ''} ({g['phenotype'] or 'no phenotype'})".replace("  ", " ")


def _order_test(gene: str) -> str:
    gene = gene.split()[0]
    text = ORDER_TEST.get(gene, f"genotype {gene} with another test")
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- model estimates
def _model_estimate(drug: str, preds: list[dict], drugs: list[dict], card_href: str | None, model_ran: bool) -> dict:
    """One drug's model estimate for the sample, with that drug's guideline rows beside it."""
    guideline = next((d for d in drugs if d["drug"].lower() == drug.lower()), None)
    entry = MODELS.get(drug)
    model = None
    r = next((p for p in preds if (p["drug"] or "").lower() == drug.lower()), None)
    if r is not None:
        dose = _f(r["predicted_dose"])
        probs = [("low", _f(r["prob_low"])), ("intermediate", _f(r["prob_intermediate"])), ("high", _f(r["prob_high"]))]
        model = {
            "status": _s(r["status"]),
            "model_version": _s(r["model_version"]),
            "predicted_class": _s(r["predicted_class"]),
            "probabilities": [{"class": c, "p": p} for c, p in probs if p is not None],
            "predicted_dose": dose,
            "dose_unit": _s(r["dose_unit"]),
            # The class the dose estimate falls in: the class probabilities come from a separate model and
            # can lean to the neighbouring class near a boundary; the report then says so.
            "dose_band": entry.classes.name_of(dose) if dose is not None and entry else None,
            "dose_classes": entry.classes.text if entry else None,
            "dose_lower": _f(r["dose_lower"]),
            "dose_upper": _f(r["dose_upper"]),
            "out_of_distribution": _b(r["out_of_distribution"]),
            "reasons": _l(r["reasons"]),
        }
    if model is not None:
        model["reasons"] = [plain_model_reason(x) for x in model["reasons"]]
    reason = None
    if model is None:
        reason = (f"the {drug} model was not run for this input" if not model_ran
                  else f"no {drug} model row for this sample")
    return {"drug": drug, "model": model, "not_run_reason": reason, "model_card_href": card_href,
            "card_path": f"model/{drug}/model_card.html",
            "limitations": list(entry.limitations) if entry else [],
            "monitoring": entry.monitoring if entry else "",
            "guidelines": guideline["guidelines"] if guideline else []}


COVARIATE_WORDS = {"age": "age", "height_cm": "height", "weight_kg": "weight", "race": "race", "sex": "sex",
                   "amiodarone": "amiodarone use", "enzyme_inducer": "enzyme-inducer use"}


def _covariates(text: str) -> str:
    return ", ".join(COVARIATE_WORDS.get(c.strip(), c.strip()) for c in text.split(","))


def plain_model_reason(reason: str) -> str:
    """Why a model gave no estimate, in a clinician's words (the predictions table keeps the column names)."""
    m = re.match(r"^missing: sample sheet \(config sample_sheet\) with (.*)$", reason)
    if m:
        return (f"the patient's {_covariates(m.group(1))} were not supplied with this run (no sample sheet), and "
                "the model needs them")
    m = re.match(r"^missing: sample sheet row \((.*)\)$", reason)
    if m:
        return f"the sample sheet has no row for this patient, so {_covariates(m.group(1))} are unknown"
    m = re.match(r"^missing: (\w+)$", reason)
    if m and m.group(1) in COVARIATE_WORDS:
        return f"{COVARIATE_WORDS[m.group(1)]} not given in the sample sheet"
    return reason


# ---------------------------------------------------------------- matching details
def _matching(geno: GenotypeRows, codes: np.ndarray, rsids: dict, calls: list[dict]) -> list[SharedForm]:
    """The evidence table: per gene (name order) its positions in order, with counts. A gene's block is the same
    object for every patient with the same rows there (and the same missing positions and absent-is-reference
    reading): its HTML and JSON are then written once per part (memo.py)."""
    if not len(codes):
        return []
    missing_by_gene: dict[str, tuple[int, ...]] = {}
    absent_ref: dict[str, bool] = {}
    for r in calls:
        if r["candidate"] == 1:
            missing_by_gene[r["gene"]] = tuple(sorted({int(x) for x in _l(r["missing_positions"])}))
            absent_ref[r["gene"]] = _b(r["absent_is_reference"])
    codes = codes[np.lexsort((geno.position[codes], geno.gene[codes]))]  # stable: ties keep table order
    ranks = geno.gene[codes]
    starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]])
    out = []
    for a, b in zip(starts.tolist(), np.r_[starts[1:], len(codes)].tolist()):
        gene = geno.gene_names[ranks[a]]
        missing, absent = missing_by_gene.get(gene, ()), absent_ref.get(gene, False)
        key = ("gene block", gene, codes[a:b].tobytes(), missing, absent)
        block = geno.memo.get(key)
        if block is None:
            block = geno.memo[key] = _gene_block(geno, gene, codes[a:b].tolist(), set(missing), absent, rsids)
        out.append(block)
    return out


def _gene_block(geno: GenotypeRows, gene: str, codes: list[int], missing: set[int], absent_ref: bool,
                rsids: dict) -> SharedForm:
    rows = []
    for code in codes:
        r = geno.record(code)
        pos = int(r["position"])
        key = (code, pos in missing, absent_ref)
        row = geno.memo.get(key)
        if row is None:
            row = geno.memo[key] = SharedForm(_position_row(
                pos, r["chromosome"], r["state"], r["allele1"], r["allele2"], r["phased"], r["depth"], r["filter"],
                rsids.get((gene, pos)), key[1], key[2]))
        rows.append(row)
    # Positions absent from the file and read as reference are neither observed nor missing: counted apart, so "0
    # missing" never stands alone beside them (issue 19).
    return SharedForm(gene=gene, positions=rows, n_missing=sum(1 for x in rows if x["missing"]),
                      n_absent_reference=sum(1 for x in rows if x["observed"] == ABSENT_READ_AS_REFERENCE))


ABSENT_READ_AS_REFERENCE = "absent: read as reference"


def _position_row(position, chromosome, state, allele1, allele2, phased, depth, filter_, rsid: str | None,
                  in_missing: bool, absent_is_ref: bool) -> dict:
    """One row of the allele-matching table."""
    a1, a2 = _s(allele1), _s(allele2)
    observed = "—" if a1 is None else (a1 if a2 is None else f"{a1}{'|' if _b(phased) else '/'}{a2}")
    pos = int(position)
    # The input's absent-is-reference promise does not hold where the call found the gene region unread.
    read_as_ref = state == "absent" and absent_is_ref and not in_missing
    if a1 is None and read_as_ref:
        observed = ABSENT_READ_AS_REFERENCE
    return {
        "chromosome": _s(chromosome),
        "position": pos,
        "rsid": rsid,
        "observed": observed,
        "state": _s(state),
        "depth": _i(depth),
        "filter": _s(filter_),
        "missing": in_missing or (state != "called" and not read_as_ref),
    }
