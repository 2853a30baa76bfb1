# DESeq2 on salmon input, as R users run it: tximport + DESeqDataSetFromTximport + DESeq +
# results, on the six GEUVADIS samples of ../shared/data/tximport_geuvadis with an arbitrary
# two-group design (the first three runs vs the last three). Run from the repository root:
#   Rscript tests/r/make_tximport_references.R
# (R 4.2.2, tximport 1.26.1, DESeq2 1.38.3 from Debian's packages; the tests never need R.)
suppressMessages({library(tximport); library(DESeq2)})
d <- file.path("..", "shared", "data", "tximport_geuvadis")
out <- file.path("tests", "data", "r_reference", "tximport")
runs <- read.table(file.path(d, "samples.txt"), header = TRUE)$run
files <- setNames(file.path(d, "salmon", runs, "quant.sf.gz"), runs)
tx2gene <- read.csv(file.path(d, "tx2gene.gencode.v27.csv.gz"))
txi <- tximport(files, type = "salmon", tx2gene = tx2gene)
coldata <- data.frame(group = factor(rep(c("A", "B"), each = 3)), row.names = runs)
dds <- DESeq(DESeqDataSetFromTximport(txi, coldata, ~ group), quiet = TRUE)
res <- results(dds, contrast = c("group", "B", "A"))
df <- as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")]
# every gene with padj < 0.1 and 3,000 others with reads (the file stays small)
set.seed(7006)
expressed <- which(df$baseMean > 0)
keep <- sort(unique(c(which(!is.na(df$padj) & df$padj < 0.1), sample(expressed, 3000))))
df <- cbind(gene_id = rownames(df), df)[keep, ]
num <- vapply(df, is.numeric, logical(1))
df[num] <- lapply(df[num], signif, digits = 10)
con <- gzfile(file.path(out, "deseq2_salmon_B_vs_A.csv.gz"), "w")
write.csv(df, con, row.names = FALSE, quote = FALSE)
close(con)
f <- dispersionFunction(dds)
write.csv(data.frame(
  asymptDisp = attr(f, "coefficients")[["asymptDisp"]],
  extraPois = attr(f, "coefficients")[["extraPois"]],
  dispPriorVar = attr(f, "dispPriorVar"),
  filterThreshold = unname(metadata(res)$filterThreshold),
  n_padj_lt_0.05 = sum(res$padj < 0.05, na.rm = TRUE)
), file.path(out, "deseq2_salmon_summary.csv"), row.names = FALSE)

# edgeR on salmon input, the tximport vignette's recipe: lengths as offsets (scaleOffset)
suppressMessages(library(edgeR))
cts <- txi$counts
norm_mat <- txi$length
norm_mat <- norm_mat / exp(rowMeans(log(norm_mat)))
norm_cts <- cts / norm_mat
eff_lib <- calcNormFactors(norm_cts) * colSums(norm_cts)
norm_mat <- log(sweep(norm_mat, 2, eff_lib, "*"))
y <- scaleOffset(DGEList(cts), norm_mat)
design <- model.matrix(~ group, coldata)
y <- estimateDisp(y[filterByExpr(y, design), ], design)
tt <- topTags(glmQLFTest(glmQLFit(y, design), coef = 2), n = Inf, sort.by = "none")$table
df <- cbind(gene_id = rownames(tt), tt[, c("logFC", "logCPM", "F", "PValue", "FDR")])
set.seed(7007)
keep <- sort(unique(c(which(df$FDR < 0.1), sample(nrow(df), 3000))))
df <- df[keep, ]
num <- vapply(df, is.numeric, logical(1))
df[num] <- lapply(df[num], signif, digits = 10)
con <- gzfile(file.path(out, "edger_salmon_B_vs_A.csv.gz"), "w")
write.csv(df, con, row.names = FALSE, quote = FALSE)
close(con)
write.csv(data.frame(common = y$common.dispersion, n_tested = nrow(tt),
                     n_fdr_lt_0.05 = sum(tt$FDR < 0.05)),
          file.path(out, "edger_salmon_summary.csv"), row.names = FALSE)
