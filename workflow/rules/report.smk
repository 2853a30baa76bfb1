rule report:
    input:
        [path for path in all_outputs() if not path.endswith("report.html")],
    output:
        out("report.html"),
    log:
        log_path("report"),
    conda:
        "../../envs/report.yaml"
    threads: 1
    params:
        outdir=lambda wildcards, output: os.path.dirname(output[0]),
        config=config,
    script:
        "../../scripts/report.py"
