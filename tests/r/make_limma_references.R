# limma-voom references on the simulated "hard case" data (tests/r/simulate_hard_cases.py),
# beside the DESeq2 ones in tests/data/r_reference/hard/. Run from the repository root:
#   Rscript tests/r/make_limma_references.R
# (R 4.2.2, edgeR 3.40.2, limma 3.54.1 from Debian's packages; the tests never need R.)
suppressMessages({library(edgeR); library(limma)})
dir <- file.path("tests", "data", "r_reference", "hard")

write_gz <- function(df, file) {
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = 10)
  con <- gzfile(file.path(dir, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}
top <- function(eb, ...) {
  tt <- topTable(eb, ..., number = Inf, sort.by = "none")
  cbind(gene_id = rownames(tt), tt[, c("logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B")])
}
voom_fit <- function(name, formula) {
  cts <- as.matrix(read.csv(file.path(dir, paste0(name, "_counts.csv.gz")), row.names = 1))
  cd <- read.csv(file.path(dir, paste0(name, "_samples.csv")), row.names = 1,
                 stringsAsFactors = TRUE)
  design <- model.matrix(formula, cd)
  y <- DGEList(cts)
  keep <- filterByExpr(y, design)
  y <- calcNormFactors(y[keep, , keep.lib.sizes = FALSE])
  v <- voom(y, design)
  list(y = y, v = v, fit = lmFit(v, design), keep = keep, design = design)
}

# a numeric covariate beside two factors
r <- voom_fit("lowcount", ~ rin + batch + condition)
write_gz(data.frame(gene_id = names(r$keep), keep = r$keep), "lowcount_voom_keep.csv.gz")
write.csv(data.frame(sample = colnames(r$y), lib.size = r$y$samples$lib.size,
                     norm.factors = r$y$samples$norm.factors),
          file.path(dir, "lowcount_voom_tmm.csv"), row.names = FALSE)
w <- r$v$weights; dimnames(w) <- dimnames(r$v$E)
write_gz(cbind(gene_id = rownames(w), as.data.frame(w)), "lowcount_voom_weights.csv.gz")
write_gz(top(eBayes(r$fit), coef = "conditiontreated"), "lowcount_voom_condition.csv.gz")
write_gz(top(eBayes(r$fit), coef = "rin"), "lowcount_voom_rin.csv.gz")

# three levels: a contrast between two non-reference levels goes through contrasts.fit
r <- voom_fit("outliers", ~ condition)
write_gz(top(eBayes(r$fit), coef = "conditionB"), "outliers_voom_B_vs_A.csv.gz")
cfit <- contrasts.fit(r$fit, c(0, -1, 1))
write_gz(top(eBayes(cfit)), "outliers_voom_C_vs_B.csv.gz")

# limma-trend style moderation: eBayes(trend = TRUE) on the voom fit of the covariate design
r <- voom_fit("lowcount", ~ rin + batch + condition)
write_gz(top(eBayes(r$fit, trend = TRUE), coef = "conditiontreated"),
         "lowcount_voom_trend_condition.csv.gz")
r <- voom_fit("outliers", ~ condition)
write_gz(top(eBayes(r$fit, trend = TRUE), coef = "conditionC"), "outliers_voom_trend_C_vs_A.csv.gz")

# robust moderation (eBayes(robust = TRUE)): the outlier data set has genes with outlying
# variances; the covariate design for the other branch of the prior df fit
r <- voom_fit("outliers", ~ condition)
eb <- eBayes(r$fit, robust = TRUE)
write_gz(top(eb, coef = "conditionB"), "outliers_voom_robust_B_vs_A.csv.gz")
write_gz(data.frame(gene_id = rownames(r$fit), df.prior = eb$df.prior),
         "outliers_voom_robust_df_prior.csv.gz")
r <- voom_fit("lowcount", ~ rin + batch + condition)
write_gz(top(eBayes(r$fit, robust = TRUE), coef = "conditiontreated"),
         "lowcount_voom_robust_condition.csv.gz")

# robust and trend together (fitFDistRobustly with a covariate)
r <- voom_fit("outliers", ~ condition)
write_gz(top(eBayes(r$fit, robust = TRUE, trend = TRUE), coef = "conditionB"),
         "outliers_voom_robust_trend_B_vs_A.csv.gz")
