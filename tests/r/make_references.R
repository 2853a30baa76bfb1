# Makes the extra DESeq2 references in tests/data/r_reference from ../shared/data.
# Run from the repository root: Rscript tests/r/make_references.R
# (R 4.2.2, DESeq2 1.38.3 from Debian's r-bioc-deseq2; the tests never need R.)
suppressMessages(library(DESeq2))
shared <- file.path("..", "shared", "data")
out <- file.path("tests", "data", "r_reference")

write_res <- function(res, file) {
  df <- as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")]
  df <- cbind(gene_id = rownames(df), df)
  df <- df[df$baseMean > 0, ]
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = 10)
  con <- gzfile(file.path(out, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}
write_info <- function(dds, res, file) {
  df <- data.frame(
    dispPriorVar = attr(dispersionFunction(dds), "dispPriorVar"),
    varLogDispEsts = attr(dispersionFunction(dds), "varLogDispEsts"),
    filterThreshold = metadata(res)$filterThreshold,
    n_padj_lt_0.05 = sum(res$padj < 0.05, na.rm = TRUE)
  )
  write.csv(df, file.path(out, file), row.names = FALSE)
}

# airway: 8 samples, ~ celltype + dex (p = 5, 3 residual df: the simulated prior variance)
cts <- as.matrix(read.csv(file.path(shared, "airway", "airway_rawcounts.csv"), row.names = 1))
meta <- read.csv(file.path(shared, "airway", "airway_metadata.csv"), row.names = 1)
meta$dex <- relevel(factor(meta$dex), "control")
meta$celltype <- factor(meta$celltype)
dds <- DESeqDataSetFromMatrix(cts[, rownames(meta)], meta, ~ celltype + dex)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("dex", "treated", "control"))
write_res(res, "airway_dex_treated_vs_control.csv.gz")
write_info(dds, res, "airway_info.csv")
ddsl <- DESeq(dds, test = "LRT", reduced = ~ celltype, quiet = TRUE)
write_res(results(ddsl), "airway_lrt_celltype.csv.gz")

# pasilla: 7 samples, ~ type + condition (4 residual df)
cts <- as.matrix(read.delim(file.path(shared, "pasilla", "pasilla_gene_counts.tsv"), row.names = 1))
ann <- read.csv(file.path(shared, "pasilla", "pasilla_sample_annotation.csv"), row.names = 1)
rownames(ann) <- sub("fb$", "", rownames(ann))
ann <- ann[colnames(cts), c("condition", "type")]
ann$condition <- relevel(factor(ann$condition), "untreated")
ann$type <- factor(sub("-", "_", ann$type))
dds <- DESeqDataSetFromMatrix(cts, ann, ~ type + condition)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("condition", "treated", "untreated"))
write_res(res, "pasilla_treated_vs_untreated.csv.gz")
write_info(dds, res, "pasilla_info.csv")

# interaction and no-intercept designs on PyDESeq2's "wide" fixture (50 genes x 30 samples)
wide <- file.path(shared, "pydeseq2_synthetic", "r_reference", "wide")
cts <- as.matrix(read.csv(file.path(wide, "test_counts.csv"), row.names = 1))
meta <- read.csv(file.path(wide, "test_metadata.csv"), row.names = 1)
meta[] <- lapply(meta, factor)
dds <- DESeq(DESeqDataSetFromMatrix(cts, meta, ~ group * condition), quiet = TRUE)
write_res(results(dds, contrast = c("condition", "B", "A")), "wide_interaction_condition.csv.gz")
write_res(results(dds, name = "groupY.conditionB"), "wide_interaction_term.csv.gz")
dds <- DESeq(DESeqDataSetFromMatrix(cts, meta, ~ 0 + condition), quiet = TRUE)
write_res(results(dds, contrast = c("condition", "B", "A")), "wide_no_intercept.csv.gz")
