rule normalize:
    input:
        unpack(normalize_inputs),
    output:
        LAYOUT.normalized("{method}"),
    log:
        log_path("normalize/{method}"),
    benchmark:
        benchmark_path("normalize/{method}")
    conda:
        "../../envs/normalize.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_for(1000, 8),
        runtime=runtime_for(5, 1),
    params:
        method="{method}",
        # median of ratios as DESeq2 sizes the libraries (poscounts when every gene has a 0)
        size_factors=config["de"]["size_factors"],
    script:
        "../../scripts/normalize.py"


rule sample_totals:
    input:
        [normalized(method) for method in METHODS],
    output:
        totals=report(
            LAYOUT.sample_totals(),
            caption="../report/sample_totals.rst",
            category="2. Normalization",
            labels={"table": "sample totals per method"},
        ),
        methods=LAYOUT.normalization_methods(),
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
