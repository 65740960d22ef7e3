"""`pgx-pipeline`: one-off runs of the whole workflow, and the per-stage commands the Snakemake rules call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import yaml

from . import __version__, schema
from .calling.outside import assign_outside_calls, check_run_tables
from .cli_model import member_option, members_vcfs, model
from .errors import PgxInputError, user_errors
from .inputs import (
    check_sheet_rows_owned,
    drop_index_files,
    header_samples,
    inputs_from_config,
    inputs_from_paths,
    read_sample_sheet,
    sheet_rows_for_input,
    split_group_paths,
    stale_folders_error,
    stale_input_folders,
    write_manifest,
)
from .report.cli import report
from .report.formats import parse_formats
from .sharding import plan_run_units

REPO_ROOT = Path(__file__).resolve().parents[2]
build_option = click.option(
    "--build", type=click.Choice(["auto", "GRCh38", "GRCh37"]), default=None,
    help="Genome build of the VCFs (config build / inputs[].build; default auto: detected from the header, else from "
         "REF bases at definition positions). GRCh37 is read through the build map. A stated build the file "
         "contradicts is an error.")


@click.group()
@click.version_option(__version__, prog_name="pgx-pipeline")
def main() -> None:
    """Batch pharmacogenomics: VCF -> star alleles -> phenotypes -> guidance -> model -> reports."""
    # Patient data: files we create are readable by owner and group only.
    os.umask(0o027)


@main.command()
@click.argument("vcfs", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--split-group", "split_groups", multiple=True, metavar="A.vcf.gz,B.vcf.gz,...",
              help="Files holding the SAME samples split by chromosome or region, read as one input (comma- or "
                   "semicolon-separated); repeat for each such set. Every other file is its own input: files are never "
                   "grouped because their sample names match.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Results folder (created).")
@click.option("--knowledge", "knowledge", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Knowledge mirror folder in PharmCAT's layout; repeat for fallbacks (first wins per file). "
                   "Default: the config's knowledge.sources, or the embedded knowledge base when none exists.")
@click.option("--sample-sheet", type=click.Path(dir_okay=False), help="TSV: sample_id, sex, age, height_cm, weight_kg, race, ...")
@click.option("--outside-calls", multiple=True, type=click.Path(dir_okay=False),
              help="Outside-call TSV (PharmCAT format, or a table with a sample_id column and an optional vcf column "
                   "naming the row's input file(s), as in the sample sheet); repeatable. With several inputs each file "
                   "must name its patients unambiguously (a per-sample file one sample of the run in its name; a table "
                   "row its vcf, or a sample id held by one input only), else the run stops naming them.")
@click.option("--absent-is-reference", is_flag=True, help="Positions absent from the VCFs are reference (variant-only files).")
@build_option
@click.option("--cores", default=1, show_default=True, type=int, help="Cores for Snakemake.")
@click.option("--report-date", default=None, help="Date printed on reports (YYYY-MM-DD); default today.")
@click.option("--samples-per-part", type=click.IntRange(min=0), default=None,
              help="Samples per job after ingestion (config sharding.samples_per_part; 0 = whole input).")
@click.option("--gene-groups", type=click.IntRange(min=1), default=None,
              help="Ingestion jobs per indexed input, one per group of genes (config sharding.gene_groups).")
@click.option("--files-per-batch", type=click.IntRange(min=1), default=None,
              help="Most small inputs (single files of at most half --samples-per-part samples) one batch job reads "
                   "(config sharding.files_per_batch; 1 = every file its own jobs).")
@click.option("--formats", "formats_text", default=None, metavar="html,json,...",
              help="Files written per patient, comma-separated from html (required), json, fhir, outside_calls "
                   "(default: the config's reports.formats, all four).")
@click.option("--snakemake-args", default="", help="Extra arguments passed to snakemake, e.g. '--dry-run'.")
@user_errors
def run(vcfs, split_groups, out_dir, knowledge, sample_sheet, outside_calls, absent_is_reference, build, cores,
        report_date, samples_per_part, gene_groups, files_per_batch, formats_text, snakemake_args):
    """Run the whole workflow on VCF files: each file is one input (a patient is file + sample), except the
    files declared with --split-group."""
    # a wrong list stops the run now, not after ingestion and calling
    formats = parse_formats(formats_text) if formats_text is not None else None
    groups = [split_group_paths(g) for g in split_groups]
    vcfs, indexes = drop_index_files(list(vcfs))
    groups = [drop_index_files(g)[0] for g in groups]
    indexes += [f for g in split_groups for f in drop_index_files(split_group_paths(g))[1]]
    if indexes:
        shown = ", ".join(Path(i).name for i in indexes[:5]) + (f" and {len(indexes) - 5} more" if len(indexes) > 5 else "")
        click.echo(f"pgx-pipeline: note: skipped {len(indexes)} index file(s) given as inputs ({shown}); an index is "
                   "used automatically when it sits next to its VCF", err=True)
    if not vcfs and not any(groups):
        raise PgxInputError("no VCF/BCF file given (only index files?); name the VCFs, or use --split-group")
    missing = [v for v in [*vcfs, *(f for g in groups for f in g)] if not Path(v).exists()]
    if missing:
        raise PgxInputError(f"input file(s) not found: {', '.join(missing)}")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    specs = inputs_from_paths([str(Path(v).resolve()) for v in vcfs],
                              split_groups=[[str(Path(f).resolve()) for f in g] for g in groups if g],
                              absent_is_reference=absent_is_reference)
    # Outside calls and sheet rows name patients by sample id: with several inputs they must say whose they are.
    # (one input: its sample ids are only needed to check outside-call table rows that name its file)
    held = {s.input_id: header_samples(s.vcfs[0]) or [] for s in specs} if len(specs) > 1 or outside_calls else {}
    rows = read_sample_sheet(sample_sheet) if sample_sheet else []
    if sample_sheet:
        # fail now, with the line number, rather than inside a job
        check_sheet_rows_owned(rows, held, sample_sheet)
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    config["results"] = str(out)
    config["inputs"] = [s.as_config() for s in specs]
    config["sample_sheet"] = str(Path(sample_sheet).resolve()) if sample_sheet else ""
    if knowledge:
        config["knowledge"]["sources"] = [{"path": str(Path(k).resolve()), "stale": False} for k in knowledge]
    else:
        for src in config["knowledge"]["sources"]:
            src["path"] = str((REPO_ROOT / src["path"]).resolve())
    for key in ("fda_associations", "grch37_chain"):
        if config["knowledge"].get(key):
            config["knowledge"][key] = str((REPO_ROOT / config["knowledge"][key]).resolve())
    if build:
        config["build"] = build
    for entry in (config.get("models") or {}).values():
        if entry.get("training_file"):
            entry["training_file"] = str((REPO_ROOT / entry["training_file"]).resolve())
    if report_date:
        config["report_date"] = report_date
    if formats is not None:
        config.setdefault("reports", {})["formats"] = list(formats)
    sharding_cfg = config.setdefault("sharding", {})
    if samples_per_part is not None:
        sharding_cfg["samples_per_part"] = samples_per_part
    if gene_groups is not None:
        sharding_cfg["gene_groups"] = gene_groups
    if files_per_batch is not None:
        sharding_cfg["files_per_batch"] = files_per_batch
    # Every input of the run (the sample sheet may add some): an earlier run's inputs must not mix with them.
    every = inputs_from_config(config)
    if outside_calls or any(r.get("outside_calls") for r in rows):
        held = {s.input_id: held.get(s.input_id) or header_samples(s.vcfs[0]) or [] for s in every}
    if outside_calls:
        # Assigned over every input, the sheet's too: a table row may name a file only the sheet makes an input.
        owners = assign_outside_calls([str(Path(o).resolve()) for o in outside_calls], held,
                                      {s.input_id: s.vcfs for s in every})
        for s in every:
            s.outside_calls = owners[s.input_id]
        # The workflow reads each input's files from the config, so the sheet's inputs are listed there as well.
        config["inputs"] = [s.as_config() for s in every]
    if any(r.get("outside_calls") for r in rows):
        check_run_tables(every, rows, held)
    units = plan_run_units(every, sharding_cfg)
    stale = stale_input_folders(out, [s.input_id for s in every], [u.name for u in units])
    if stale:
        raise stale_folders_error(out, stale)
    write_manifest(out, every, units)
    cfg_path = out / "run_config.yaml"
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"),
        "--directory", str(out), "--configfile", str(cfg_path), "--cores", str(cores),
        "--keep-going", "--rerun-incomplete", "--printshellcmds",
        *snakemake_args.split(),
    ]
    click.echo(f"pgx-pipeline: {len(every)} input(s) -> {out}", err=True)
    env = dict(os.environ)
    # Rules call `pgx-pipeline`: make sure it is the one from this interpreter's environment.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    code = subprocess.call(cmd, env=env)
    produced = list((out / "calls").glob("*/*.parquet"))
    if code != 0 and not produced:
        raise PgxInputError(f"nothing could be produced; see the logs under {out / 'logs'}")
    failed, failed_files = _failed_inputs(out)
    for input_id, error in sorted(failed.items()):
        click.echo(f"pgx-pipeline: input {input_id} failed: {error}", err=True)
    for input_id, files in sorted(failed_files.items()):
        for f in files:
            click.echo(f"pgx-pipeline: input {input_id}: file {f} (failed; the other files of the input were read, "
                       "genes only it covers are reported not assessed)", err=True)
    if failed and len(failed) == len(every):
        raise PgxInputError(f"every input failed (reasons above; their reports say the same in {out / 'reports'})")
    if code != 0:
        click.echo(f"pgx-pipeline: some jobs failed; finished outputs are in {out}; see {out / 'logs'}", err=True)
    sys.exit(0)


def _failed_inputs(out: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Inputs the ingestion recorded as failed (any gene group), with the first reason given; and the failed files
    of split groups whose other files were read."""
    failed: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    for path in sorted((out / "ingest").glob("*/*/part-*.samples.parquet")):
        samples = schema.read_table(path, schema.SAMPLES)
        for input_id, status, error, bad in zip(samples["input_id"], samples["status"], samples["error"],
                                                samples["failed_files"]):
            if status == "failed":
                failed.setdefault(str(input_id), str(error))
            for f in (bad if bad is not None else []):
                if f not in files.setdefault(str(input_id), []):
                    files[str(input_id)].append(str(f))
    return failed, {k: v for k, v in files.items() if v}


@main.group()
def knowledge() -> None:
    """Build or fetch the knowledge base."""


@knowledge.command("build")
@click.option("--source", "sources", multiple=True, required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--fda-associations", type=click.Path(dir_okay=False), default=None,
              help="FDA Table of Pharmacogenetic Associations (JSON; config knowledge.fda_associations).")
@click.option("--grch37-chain", default=None, type=click.Path(dir_okay=False),
              help="GRCh38->GRCh37 liftOver chain (hg38ToHg19.over.chain.gz; config knowledge.grch37_chain): the "
                   "build map that lets GRCh37 inputs be called. Without it GRCh37 inputs fail.")
@click.option("--stale-source", "stale_sources", multiple=True, type=click.Path(file_okay=False),
              help="One of the --source folders holding older data (config knowledge.sources[].stale): every row "
                   "read from it is flagged stale. A folder whose PROVENANCE.md says stale is flagged anyway.")
@user_errors
def knowledge_build(sources, out_dir, fda_associations, grch37_chain, stale_sources):
    """Read mirror folders (first wins per file) and write the knowledge Parquet tables."""
    from .knowledge.build import build_knowledge_base

    declared = {Path(s).resolve() for s in stale_sources}
    unknown = sorted(str(s) for s in declared - {Path(s).resolve() for s in sources})
    if unknown:
        raise PgxInputError(f"--stale-source {', '.join(unknown)} is not one of the --source folders; give it as "
                            "--source too")
    written = build_knowledge_base(list(sources), out_dir, fda_associations=fda_associations,
                                   grch37_chain=grch37_chain or None,
                                   stale=[Path(s).resolve() in declared for s in sources])
    for name, path in written.items():
        click.echo(f"{name}: {path}")


@knowledge.command("install")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--why", default="", help="Reason printed with the data version (the workflow says why it is used).")
@user_errors
def knowledge_install(out_dir, why):
    """Copy the knowledge base embedded in the package (tables + provenance.json) into a folder."""
    from .knowledge.build import read_provenance
    from .knowledge.embedded import install_embedded

    install_embedded(out_dir)
    prov = read_provenance(out_dir)
    click.echo(f"pgx-pipeline: {why + ': ' if why else ''}embedded knowledge base {prov['data_version']} "
               f"({prov['source']})", err=True)


@knowledge.command("info")
@click.option("--kb", "kb_dir", type=click.Path(file_okay=False, exists=True),
              help="A built knowledge base folder (e.g. results/knowledge); default: the embedded one.")
@user_errors
def knowledge_info(kb_dir):
    """Data version, upstream commit, files read and licences of a knowledge base."""
    from .knowledge.build import read_provenance
    from .knowledge.embedded import embedded_kb_dir

    prov = read_provenance(kb_dir or embedded_kb_dir())
    files = prov.get("files") or []
    n_stale = sum(1 for f in files if f.get("stale"))
    click.echo(f"knowledge base:   {'given folder' if kb_dir else f'embedded in pgx-pipeline {__version__}'}")
    click.echo(f"data version:     {prov.get('data_version', 'unknown')}")
    click.echo(f"upstream:         {prov.get('upstream_repository', 'PharmGKB/PharmCAT')} "
               f"commit {prov.get('upstream_commit', 'unknown')}")
    click.echo(f"sources:          {prov.get('source', 'unknown')}")
    click.echo(f"stale files:      {prov.get('stale_files') or 'none'}")
    if files:
        click.echo(f"files read:       {len(files)} ({len(files) - n_stale} current, {n_stale} stale), each with its "
                   "sha256 and git blob id in provenance.json")
    for lic in prov.get("licences") or []:
        click.echo(f"licence:          {lic['licence']}: {lic['content']} ({lic['url']})")
    click.echo(f"built by:         {prov.get('built_by') or prov.get('pipeline_version', 'unknown')}")


@knowledge.command("fetch")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Mirror folder to write (replaced only when every file is verified).")
@click.option("--commit", default=None, help="PharmCAT commit; default: the pinned one this release was built from.")
@click.option("--tree", "tree_file", type=click.Path(dir_okay=False, exists=True),
              help="TSV upstream_path<TAB>git_blob of the files to fetch (needed for a commit other than the pinned "
                   "one; e.g. from `git ls-tree -r <commit>` in a PharmCAT clone).")
@click.option("--base-url", default=None,
              help="Where raw files are served as <base-url>/<commit>/<path>; default raw.githubusercontent.com "
                   "(an internal mirror of it for air-gapped sites).")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(min=1), help="Attempts per file.")
@user_errors
def knowledge_fetch(out_dir, commit, tree_file, base_url, retries):
    """Download PharmCAT's data files at a commit, each verified against its git blob id, as a mirror folder."""
    from .knowledge import upstream

    commit = commit or upstream.PINNED_COMMIT
    tree = upstream.read_tree(tree_file) if tree_file else None
    out = upstream.fetch_upstream(out_dir, commit=commit, tree=tree, base_url=base_url or upstream.RAW_BASE_URL,
                                  retries=retries, log=lambda msg: click.echo(msg, err=True))
    click.echo(f"{out}: PharmGKB/PharmCAT {commit}; build with: pgx-pipeline knowledge build --source {out} --out DIR")


@main.command()
@click.option("--input-id", default=None, help="The input's id (one input; see --member for a batch).")
@click.option("--vcf", "vcfs", multiple=True)
@member_option
@click.option("--kb", "kb_dir", required=True, type=click.Path(file_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option("--absent-is-reference", is_flag=True)
@build_option
@click.option("--sample-sheet", default="", help="Sample sheet (for sex).")
@click.option("--strict", is_flag=True, help="Fail on bad input instead of recording the failure.")
@click.option("--gene-group", default=None, help="K/N: read only gene group K of N (groups balance defining positions).")
@click.option("--parts", "n_parts", default=None, type=click.IntRange(min=1),
              help="Cut the samples into N parts, written as part-NNN.genotypes/samples.parquet.")
@user_errors
def ingest(input_id, vcfs, members, kb_dir, out_dir, absent_is_reference, build, sample_sheet, strict, gene_group,
           n_parts):
    """Ingest one input's VCF(s) into genotypes and samples Parquet (one pair per part with --parts), or with
    --member a batch of small inputs into one pair (part-000), each row naming its input."""
    from .ingest.vcf import ingest_batch, ingest_vcf, record_failed_input
    from .sharding import parse_group

    rows = read_sample_sheet(sample_sheet) if sample_sheet else []
    if members:
        if input_id or vcfs or gene_group or strict:
            raise PgxInputError("--member (a batch) takes no --input-id, --vcf, --gene-group or --strict")
        sex = {i: {sid: (r.get("sex") or None) for sid, r in sheet_rows_for_input(rows, [v]).items()}
               for i, v in members}
        for line in ingest_batch(list(members), kb_dir, out_dir, absent_is_reference=absent_is_reference,
                                 sample_sex=sex, build=build):
            click.echo(f"pgx-pipeline: {line}", err=True)
        click.echo(f"{len(members)} inputs ingested as one batch", err=True)
        return
    if not input_id or not vcfs:
        raise PgxInputError("give --input-id and --vcf (one input), or --member INPUT_ID VCF for each input of a batch")
    group = parse_group(gene_group) if gene_group else None
    sex = {sid: (r.get("sex") or None) for sid, r in sheet_rows_for_input(rows, list(vcfs)).items()} if rows else {}
    try:
        result = ingest_vcf(list(vcfs), kb_dir, out_dir, input_id=input_id,
                            absent_is_reference=absent_is_reference, sample_sex=sex, gene_group=group, n_parts=n_parts,
                            build=build)
    except PgxInputError as exc:
        if strict:
            raise
        record_failed_input(list(vcfs), out_dir, input_id=input_id, error=str(exc), n_parts=n_parts)
        click.echo(f"pgx-pipeline: error: {exc} (input {input_id} recorded as failed; other inputs continue)", err=True)
        return
    click.echo(f"{input_id}: {result.n_samples} samples, {result.n_records_used} records used", err=True)
    for note in result.notes:
        click.echo(f"warning: {note}", err=True)


@main.command("call")
@click.option("--genotypes", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Genotypes Parquet; repeat for the gene groups of one part.")
@click.option("--samples", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Samples Parquet; repeat for the gene groups of one part (a failure in any group fails the sample).")
@click.option("--kb", "kb_dir", required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
@click.option("--outside-calls", multiple=True, type=click.Path(dir_okay=False))
@click.option("--sample-sheet", default="")
@click.option("--vcf", "vcfs", multiple=True, help="The input's VCF(s): sample-sheet rows naming other VCFs do not apply.")
@member_option
@user_errors
def call_cmd(genotypes, samples, kb_dir, out_path, outside_calls, sample_sheet, vcfs, members):
    """Call star-allele diplotypes for every gene and patient of one work unit (an input's part, or a batch)."""
    from .calling.call import call_input
    from .calling.outside import read_outside_calls
    from .sharding import read_samples

    table = read_samples(list(samples))
    vcfs_of = members_vcfs(members) or {i: list(vcfs) for i in set(table["input_id"])}
    rows = read_sample_sheet(sample_sheet) if sample_sheet else []
    # Outside calls per input: the --outside-calls files apply to every input, a sheet row's file to its own input.
    by_input: dict[str, list] = {}
    cache: dict[tuple, list] = {}
    for input_id, sub in table.groupby("input_id", sort=True):
        sample_ids = list(sub["sample_id"])
        files = list(outside_calls)
        if rows:
            by_id = sheet_rows_for_input(rows, vcfs_of.get(input_id, [])) if vcfs_of.get(input_id) else {
                r["sample_id"]: r for r in rows}
            files += [r["outside_calls"] for sid, r in by_id.items() if r.get("outside_calls") and sid in sample_ids]
        # Several sheet rows may point at one cohort table: read once, or each of its calls would be given twice.
        for f in dict.fromkeys(str(Path(f).resolve()) for f in files):
            # Read against this input's samples, as when each input had its own job (a per-sample file is matched
            # by the sample names of the input it is given to).
            key = (f, tuple(sample_ids))
            if key not in cache:
                try:
                    cache[key] = read_outside_calls(f, sample_ids)
                except PgxInputError as exc:
                    cache[key] = []
                    click.echo(f"pgx-pipeline: error: {exc} (outside calls from this file ignored)", err=True)
            by_input.setdefault(str(input_id), []).extend(cache[key])
    calls = call_input(list(genotypes), list(samples), kb_dir, out_path, outside_calls=by_input, input_vcfs=vcfs_of)
    click.echo(f"{calls[['input_id', 'sample_id']].drop_duplicates().shape[0]} patients, {len(calls)} call rows", err=True)


@main.command("phenotype")
@click.option("--calls", required=True, type=click.Path(dir_okay=False))
@click.option("--kb", "kb_dir", required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
@user_errors
def phenotype_cmd(calls, kb_dir, out_path):
    """Assign allele functions, activity scores, phenotypes and lookup keys to every call."""
    from .phenotype import run_phenotype_stage

    rows = run_phenotype_stage(calls, kb_dir, out_path)
    click.echo(f"{rows['sample_id'].nunique()} samples, {len(rows)} phenotype rows", err=True)


@main.command("guidance")
@click.option("--phenotypes", required=True, type=click.Path(dir_okay=False))
@click.option("--kb", "kb_dir", required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
@user_errors
def guidance_cmd(phenotypes, kb_dir, out_path):
    """Match CPIC and DPWG recommendations (and say why none applies) for every sample and drug."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .guidance import write_guidance

    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        # Arrow's default pool (mimalloc) spent ~2 s of system time a panel part here (its OS memory calls; the
        # system allocator: 0.6 s, same output); ARROW_DEFAULT_MEMORY_POOL still picks another.
        pa.set_memory_pool(pa.system_memory_pool())
    rows = write_guidance(phenotypes, kb_dir, out_path)
    click.echo(f"{pc.count_distinct(rows['sample_id']).as_py()} samples, {rows.num_rows} guidance rows", err=True)


@main.command("schema")
@click.option("--markdown", is_flag=True, help="Print the table registry as Markdown.")
def schema_cmd(markdown):
    """Describe the Parquet tables."""
    if markdown:
        click.echo(schema.markdown())
    else:
        for t in schema.TABLES.values():
            click.echo(f"{t.name}: {t.doc}")


main.add_command(model)
main.add_command(report)

if __name__ == "__main__":
    main()
