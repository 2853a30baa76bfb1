rule normalize:
    input:
        unpack(normalize_inputs),
    output:
        out("normalized/{method}.tsv"),
    log:
        log_path("normalize/{method}"),
    conda:
        "../../envs/normalize.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_scaled(500, 10),
    params:
        method="{method}",
    script:
        "../../scripts/normalize.py"


rule sample_totals:
    input:
        expand(out("normalized/{method}.tsv"), method=METHODS),
    output:
        totals=out("normalized/sample_totals.tsv"),
        methods=out("normalized/methods.tsv"),
    log:
        log_path("sample_totals"),
    conda:
        "../../envs/normalize.yaml"
    threads: 1
    params:
        methods=METHODS,
        skipped=SKIPPED_METHODS,
    script:
        "../../scripts/sample_totals.py"
