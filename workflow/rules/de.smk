rule de_fit:
    input:
        counts=validated("counts"),
        samples=validated("samples"),
    output:
        model=out("de/model.pkl"),
        size_factors=out("de/size_factors.tsv"),
        gene_fit=out("de/gene_fit.tsv"),
        dispersion_png=out("de/plots/dispersion.png"),
    log:
        log_path("de_fit"),
    benchmark:
        benchmark_path("de_fit")
    conda:
        "../../envs/de.yaml"
    threads: 4
    resources:
        mem_mb=mem_mb_scaled(1000, 20),
    params:
        design=config["design"],
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        prefilter=config["filtering"],
    script:
        "../../scripts/de_fit.py"


rule de_results:
    input:
        model=out("de/model.pkl"),
    output:
        table=out("de/{contrast}.tsv"),
        ma_png=out("de/plots/{contrast}_ma.png"),
        volcano_png=out("de/plots/{contrast}_volcano.png"),
    log:
        log_path("de_results/{contrast}"),
    benchmark:
        benchmark_path("de_results/{contrast}")
    conda:
        "../../envs/de.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_scaled(1000, 5),
    params:
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        de=config["de"],
    script:
        "../../scripts/de_results.py"
