rule report:
    input:
        [path for path in all_outputs() if path != LAYOUT.report()],
    output:
        report(
            LAYOUT.report(),
            caption="../report/dgeflow_report.rst",
            category="1. Overview",
            labels={"file": "dgeflow report"},
        ),
    log:
        log_path("report"),
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        # the count plot's per-group summaries hold the log counts and one level's copy
        mem_mb=mem_mb_for(1000, 12),
        runtime=runtime_for(5, 0.5),
    params:
        outdir=lambda wildcards, output: os.path.dirname(output[0]),
        config=config,
    script:
        "../../scripts/report.py"
