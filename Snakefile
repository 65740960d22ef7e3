from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/knowledge.smk"
include: "rules/ingest.smk"
include: "rules/call.smk"
include: "rules/phenotype.smk"
include: "rules/guidance.smk"
include: "rules/model.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
