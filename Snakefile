from snakemake.utils import min_version, validate

min_version("9.0")


# Paths in this file and the rule files are relative to the file they are written in
# (include:, report:, script:, conda:, the schema given to validate()), so the workflow
# also runs as a module of another workflow. The config file and the data and outdir
# paths in it are relative to the directory snakemake runs in, as Snakemake does it; a
# host workflow that passes `config: config` to the module skips this configfile.
configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "config/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/normalize.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/de.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
