# References for dgeflow's edgeR pieces, in tests/data/r_reference/edger/. Run from the
# repository root: Rscript tests/r/make_edger_references.R
# (R 4.2.2, edgeR 3.40.2, locfit 1.5 from Debian's packages; the tests never need R.)
suppressMessages({library(edgeR); library(locfit)})
dir <- file.path("tests", "data", "r_reference", "edger")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

# locfitByCol(degree = 0) is locfit's tree evaluation: several sizes and spans, edgeR's
# span (10 / ntags)^0.23 among them, ties in x, two columns each
set.seed(7004)
cases <- list(c(300, 0.2), c(6000, (10 / 6000)^0.23), c(2001, 0.37), c(500, 0.05),
              c(1234, 0.5), c(40, 0.3))
out <- list()
for (i in seq_along(cases)) {
  n <- cases[[i]][1]; span <- cases[[i]][2]
  x <- rnorm(n, 3, 2.5); x[seq_len(min(20, n))] <- round(x[seq_len(min(20, n))], 1)
  y <- cbind(-abs(x - 2) + rnorm(n, 0, 0.5), sin(x) + rnorm(n, 0, 0.3))
  fit <- locfitByCol(y, x, span = span, degree = 0)
  out[[i]] <- data.frame(case = i, span = span, x = x, y1 = y[, 1], y2 = y[, 2],
                         fitted1 = fit[, 1], fitted2 = fit[, 2])
}
d <- do.call(rbind, out)
con <- gzfile(file.path(dir, "locfit_by_col.csv.gz"), "w")
d[] <- lapply(d, signif, digits = 13)
write.csv(d, con, row.names = FALSE, quote = FALSE)
close(con)

# maximizeInterpolant on the estimateDisp grid: smooth, peaked, monotone and flat rows
set.seed(7005)
grid <- seq(-10, 10, length.out = 21)
peak <- runif(300, -12, 12)
curv <- exp(runif(300, -3, 1))
y <- -curv * outer(peak, grid, function(p, g) (g - p)^2) + matrix(rnorm(300 * 21, 0, 0.3), 300)
y[1:20, ] <- matrix(rep(-grid, each = 20), 20)          # decreasing: maximum at the left end
y[21:40, ] <- matrix(rep(grid, each = 20), 20)          # increasing: at the right end
y[41:50, ] <- 0                                         # flat: the first grid point
y[51:60, ] <- round(y[51:60, ], 1)                      # ties between grid values
out <- maximizeInterpolant(grid, y)
con <- gzfile(file.path(dir, "maximize_interpolant.csv.gz"), "w")
write.csv(data.frame(signif(y, 15), max = signif(out, 15)), con, row.names = FALSE, quote = FALSE)
close(con)

# estimateDisp's common and trended dispersion and AveLogCPM on MOV10 (filterByExpr genes, TMM)
shared <- file.path("..", "shared", "data", "mov10")
cts <- as.matrix(read.delim(file.path(shared, "Mov10_full_counts.txt"), row.names = 1))
meta <- read.delim(file.path(shared, "Mov10_full_meta.txt"), row.names = 1)
meta$sampletype <- relevel(factor(meta$sampletype), "control")
design <- model.matrix(~ sampletype, meta[colnames(cts), ])
y <- DGEList(cts)
y <- calcNormFactors(y[filterByExpr(y, design), , keep.lib.sizes = FALSE])
y <- estimateDisp(y, design)
con <- gzfile(file.path(dir, "mov10_dispersion.csv.gz"), "w")
write.csv(data.frame(gene_id = rownames(y), AveLogCPM = signif(y$AveLogCPM, 12),
                     trended = signif(y$trended.dispersion, 12)), con, row.names = FALSE,
          quote = FALSE)
close(con)
write.csv(data.frame(common = y$common.dispersion, prior_df = y$prior.df[1], span = y$span),
          file.path(dir, "mov10_dispersion_summary.csv"), row.names = FALSE)

# glmQLFit / glmQLFTest on the simulated hard cases (tests/r/simulate_hard_cases.py)
hard <- file.path("tests", "data", "r_reference", "hard")
ql_fit <- function(name, formula, robust = FALSE) {
  cts <- as.matrix(read.csv(file.path(hard, paste0(name, "_counts.csv.gz")), row.names = 1))
  cd <- read.csv(file.path(hard, paste0(name, "_samples.csv")), row.names = 1,
                 stringsAsFactors = TRUE)
  design <- model.matrix(formula, cd)
  y <- DGEList(cts)
  y <- calcNormFactors(y[filterByExpr(y, design), , keep.lib.sizes = FALSE])
  y <- estimateDisp(y, design)
  list(y = y, fit = glmQLFit(y, design, robust = robust))
}
write_qlf <- function(qlf, file) {
  tt <- topTags(qlf, n = Inf, sort.by = "none")$table
  df <- cbind(gene_id = rownames(tt), tt[, c("logFC", "logCPM", "F", "PValue", "FDR")])
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = 10)
  con <- gzfile(file.path(dir, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}
r <- ql_fit("lowcount", ~ rin + batch + condition)         # not a one-way layout
write_qlf(glmQLFTest(r$fit, coef = "conditiontreated"), "lowcount_qlf_condition.csv.gz")
write_qlf(glmQLFTest(r$fit, coef = "rin"), "lowcount_qlf_rin.csv.gz")
r <- ql_fit("outliers", ~ condition)
write_qlf(glmQLFTest(r$fit, coef = "conditionB"), "outliers_qlf_B_vs_A.csv.gz")
write_qlf(glmQLFTest(r$fit, contrast = c(0, -1, 1)), "outliers_qlf_C_vs_B.csv.gz")

# glmQLFit(robust = TRUE): robust squeezing towards the abundance trend
r <- ql_fit("outliers", ~ condition, robust = TRUE)
write_qlf(glmQLFTest(r$fit, coef = "conditionB"), "outliers_qlf_robust_B_vs_A.csv.gz")
con <- gzfile(file.path(dir, "outliers_qlf_robust_df_prior.csv.gz"), "w")
write.csv(data.frame(gene_id = rownames(r$fit), df.prior = signif(r$fit$df.prior, 10)), con,
          row.names = FALSE, quote = FALSE)
close(con)
r <- ql_fit("lowcount", ~ rin + batch + condition, robust = TRUE)
write_qlf(glmQLFTest(r$fit, coef = "conditiontreated"), "lowcount_qlf_robust_condition.csv.gz")
