# The workflow lives in workflow/Snakefile (where the Snakemake workflow catalog looks for it);
# this file lets `snakemake` run from the repository root, as the standard layout expects.


include: "workflow/Snakefile"


# an included file's default target does not carry over: name it here
rule default:
    default_target: True
    input:
        rules.all.input,
