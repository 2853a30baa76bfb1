rule validate:
    input:
        unpack(lambda wildcards: input_files()),
    output:
        **validation_outputs(),
    log:
        log_path("validate"),
    benchmark:
        benchmark_path("validate")
    conda:
        "../../envs/validate.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_for(1000, 22),
        runtime=runtime_for(5, 1),
    params:
        counts=config.get("counts"),
        counts_format=config["counts_format"],
        quantifications=QUANTIFICATIONS,
        annotation=ANNOTATION,
        samples=config["samples"],
        gene_lengths=config["gene_lengths"],
        design=config["design"],
        contrasts=config["contrasts"],
        reduced=config["de"]["reduced"],
        de=config["de"],
        qc_factors=config["qc"]["factors"],
    script:
        "../../scripts/validate.py"
