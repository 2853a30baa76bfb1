rule de_fit_deseq2:
    input:
        unpack(lambda wildcards: de_fit_inputs()),
    output:
        model=LAYOUT.model("deseq2"),
        size_factors=LAYOUT.fit_table("deseq2", "size_factors"),
        gene_fit=LAYOUT.fit_table("deseq2", "gene_fit"),
        cooks_by_sample=LAYOUT.fit_table("deseq2", "cooks_by_sample"),
        dispersion_png=report(
            LAYOUT.fit_plot("deseq2"),
            caption="../report/dispersion.rst",
            category="4. Differential expression",
            subcategory="Model fit",
            labels={"method": "deseq2", "file": "dispersion estimates"},
        ),
    log:
        log_path("de_fit/deseq2"),
    benchmark:
        benchmark_path("de_fit/deseq2")
    conda:
        "../../envs/de.yaml"
    threads: 4
    resources:
        mem_mb=mem_mb_blocked(1000, 60, 12),
        runtime=runtime_for(10, 4),
    params:
        fit=fit_spec(MAIN_FIT) if MAIN_FIT in FITS else None,
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        prefilter=config["filtering"],
    script:
        "../../scripts/de_fit_deseq2.py"


# a contrast's own design, samples or test: its own fit, under de/deseq2/fits/{fit}/
use rule de_fit_deseq2 as de_fit_deseq2_fit with:
    output:
        model=LAYOUT.model("deseq2", "{fit}"),
        size_factors=LAYOUT.fit_table("deseq2", "size_factors", "{fit}"),
        gene_fit=LAYOUT.fit_table("deseq2", "gene_fit", "{fit}"),
        cooks_by_sample=LAYOUT.fit_table("deseq2", "cooks_by_sample", "{fit}"),
        dispersion_png=LAYOUT.fit_plot("deseq2", "{fit}"),
    log:
        log_path("de_fit/deseq2_{fit}"),
    benchmark:
        benchmark_path("de_fit/deseq2_{fit}")
    params:
        fit=lambda wildcards: fit_spec(wildcards.fit),
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        prefilter=config["filtering"],


rule de_fit_edger_ql:
    input:
        unpack(lambda wildcards: de_fit_inputs()),
    output:
        model=LAYOUT.model("edger_ql"),
        samples=LAYOUT.fit_table("edger_ql", "samples"),
        plot=report(
            LAYOUT.fit_plot("edger_ql"),
            caption="../report/ql_dispersion.rst",
            category="4. Differential expression",
            subcategory="Model fit",
            labels={"method": "edger_ql", "file": "quasi-likelihood dispersions"},
        ),
    log:
        log_path("de_fit/edger_ql"),
    benchmark:
        benchmark_path("de_fit/edger_ql")
    conda:
        "../../envs/de.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb_for(1000, 40),
        runtime=runtime_for(10, 30),
    params:
        fit=fit_spec(MAIN_FIT) if MAIN_FIT in FITS else None,
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        method="edger_ql",
    script:
        "../../scripts/de_fit_filtered.py"


use rule de_fit_edger_ql as de_fit_edger_ql_fit with:
    output:
        model=LAYOUT.model("edger_ql", "{fit}"),
        samples=LAYOUT.fit_table("edger_ql", "samples", "{fit}"),
        plot=LAYOUT.fit_plot("edger_ql", "{fit}"),
    log:
        log_path("de_fit/edger_ql_{fit}"),
    benchmark:
        benchmark_path("de_fit/edger_ql_{fit}")
    params:
        fit=lambda wildcards: fit_spec(wildcards.fit),
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        method="edger_ql",


rule de_fit_limma_voom:
    input:
        counts=validated("counts"),
        samples=LAYOUT.typed_samples(),
    output:
        model=LAYOUT.model("limma_voom"),
        samples=LAYOUT.fit_table("limma_voom", "samples"),
        plot=report(
            LAYOUT.fit_plot("limma_voom"),
            caption="../report/voom_trend.rst",
            category="4. Differential expression",
            subcategory="Model fit",
            labels={"method": "limma_voom", "file": "voom mean-variance trend"},
        ),
    log:
        log_path("de_fit/limma_voom"),
    benchmark:
        benchmark_path("de_fit/limma_voom")
    conda:
        "../../envs/de.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb_for(1000, 40),
        runtime=runtime_for(10, 2),
    params:
        fit=fit_spec(MAIN_FIT) if MAIN_FIT in FITS else None,
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        method="limma_voom",
    script:
        "../../scripts/de_fit_filtered.py"


use rule de_fit_limma_voom as de_fit_limma_voom_fit with:
    output:
        model=LAYOUT.model("limma_voom", "{fit}"),
        samples=LAYOUT.fit_table("limma_voom", "samples", "{fit}"),
        plot=LAYOUT.fit_plot("limma_voom", "{fit}"),
    log:
        log_path("de_fit/limma_voom_{fit}"),
    benchmark:
        benchmark_path("de_fit/limma_voom_{fit}")
    params:
        fit=lambda wildcards: fit_spec(wildcards.fit),
        contrasts=list(CONTRASTS.values()),
        de=config["de"],
        method="limma_voom",


# the methods of the plain de_results rule
NOT_DESEQ2 = "|".join(re.escape(m) for m in DE_METHODS if m != "deseq2") or "no-method"


rule de_results:
    input:
        unpack(de_results_inputs),
    output:
        table=report(
            LAYOUT.de_table("{de_method}", "{contrast}"),
            caption="../report/de_table.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "results table"},
        ),
        ma_png=report(
            LAYOUT.de_plot("{de_method}", "{contrast}", "ma"),
            caption="../report/ma.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "MA plot"},
        ),
        volcano_png=report(
            LAYOUT.de_plot("{de_method}", "{contrast}", "volcano"),
            caption="../report/volcano.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "volcano plot"},
        ),
    log:
        log_path("de_results/{de_method}/{contrast}"),
    benchmark:
        benchmark_path("de_results/{de_method}/{contrast}")
    # DESeq2's tables come from de_results_deseq2 below, which writes one file more
    wildcard_constraints:
        de_method=NOT_DESEQ2,
    conda:
        "../../envs/de.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_for(1000, 5),
        runtime=runtime_for(5, 0.5),
    params:
        question=lambda wildcards: asdict(QUESTIONS[wildcards.contrast]),
        de=config["de"],
    script:
        "../../scripts/de_results.py"


# the same job for DESeq2, plus its independent-filtering curve (metadata(res)$filterNumRej)
use rule de_results as de_results_deseq2 with:
    output:
        table=report(
            LAYOUT.de_table("{de_method}", "{contrast}"),
            caption="../report/de_table.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "results table"},
        ),
        ma_png=report(
            LAYOUT.de_plot("{de_method}", "{contrast}", "ma"),
            caption="../report/ma.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "MA plot"},
        ),
        volcano_png=report(
            LAYOUT.de_plot("{de_method}", "{contrast}", "volcano"),
            caption="../report/volcano.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
            labels={"method": "{de_method}", "file": "volcano plot"},
        ),
        filter_curve=LAYOUT.filter_curve("{de_method}", "{contrast}"),
    wildcard_constraints:
        de_method="deseq2",


rule de_agreement:
    input:
        tables=[LAYOUT.de_table(m, name) for m, name in agreement_pairs()],
    output:
        table=LAYOUT.agreement(),
        plots=[LAYOUT.agreement_plot(name) for name in agreement_contrasts()],
    log:
        log_path("de_agreement"),
    conda:
        "../../envs/de.yaml"
    threads: 1
    params:
        alpha=config["de"]["alpha"],
        pairs=agreement_pairs(),
        contrasts=agreement_contrasts(),
    script:
        "../../scripts/de_agreement.py"


rule de_fits:
    input:
        samples=LAYOUT.typed_samples(),
    output:
        fits=LAYOUT.fits(),
        coefficients=LAYOUT.coefficients(),
    log:
        log_path("de_fits"),
    conda:
        "../../envs/de.yaml"
    threads: 1
    params:
        fits={fit: fit_spec(fit) for fit in FITS},
        methods=FIT_METHODS,
        contrasts={name: FIT_OF[name] for name in QUESTIONS},
        reference_levels=reference_levels(config["contrasts"]),
    script:
        "../../scripts/de_fits.py"
