rule qc_transform:
    input:
        counts=validated("counts"),
    output:
        transformed(),
    log:
        log_path("qc_transform"),
    benchmark:
        benchmark_path("qc_transform")
    conda:
        "../../envs/qc.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb_for(2000, 16),
        runtime=runtime_for(10, 3),
    params:
        transform=TRANSFORM,
        vst_nsub=config["qc"]["vst_nsub"],
        fit_type=config["de"]["fit_type"],
        size_factors=config["de"]["size_factors"],
    script:
        "../../scripts/qc_transform.py"


rule sample_qc:
    input:
        transformed=transformed(),
        samples=LAYOUT.typed_samples(),
    output:
        **{table: LAYOUT.qc_table(table) for table in QC_TABLES},
        **{
            f"{plot}_png": report(
                LAYOUT.qc_plot(plot),
                caption=f"../report/{plot}.rst",
                category="3. Sample QC",
                labels={"figure": plot.replace("_", " ")},
            )
            for plot in QC_PLOTS
        },
        sample_correlation=LAYOUT.sample_correlation(),
    log:
        log_path("sample_qc"),
    benchmark:
        benchmark_path("sample_qc")
    conda:
        "../../envs/qc.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_for(1000, 12),
        runtime=runtime_for(10, 1.5),
    params:
        qc=config["qc"],
        design=config["design"],
        contrasts=config["contrasts"],
    script:
        "../../scripts/sample_qc.py"


rule gene_filter:
    input:
        tables=de_tables(["deseq2"]),
    output:
        report(
            LAYOUT.gene_filter(),
            caption="../report/gene_filter.rst",
            category="4. Differential expression",
            subcategory="Model fit",
            labels={"method": "deseq2", "file": "gene filter categories"},
        ),
    log:
        log_path("gene_filter"),
    conda:
        "../../envs/qc.yaml"
    threads: 1
    params:
        contrasts=deseq2_contrasts(),
    script:
        "../../scripts/gene_filter.py"
