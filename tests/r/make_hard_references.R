# R DESeq2 references for the "hard case" data sets (issue #7), written beside their counts in
# tests/data/r_reference/hard/. Run from the repository root after simulate_hard_cases.py:
#   Rscript tests/r/make_hard_references.R
# (R 4.2.2, DESeq2 1.38.3 from Debian's r-bioc-deseq2; the tests never need R.)
suppressMessages(library(DESeq2))
dir <- file.path("tests", "data", "r_reference", "hard")

write_gz <- function(df, file) {
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = 10)
  con <- gzfile(file.path(dir, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}

write_res <- function(res, file) {
  df <- as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")]
  write_gz(cbind(gene_id = rownames(df), df), file)
}

write_filter <- function(res, name) {
  md <- metadata(res)
  data.frame(
    result = name, theta = md$filterNumRej$theta, numRej = md$filterNumRej$numRej,
    lowess = md$lo.fit$y, filterThreshold = unname(md$filterThreshold),
    filterTheta = md$filterTheta
  )
}

write_fit <- function(dds, name) {
  mc <- mcols(dds)
  cols <- c("baseMean", "allZero", "dispGeneEst", "dispGeneIter", "dispFit", "dispMAP",
            "dispersion", "dispIter", "dispOutlier", "betaConv", "deviance", "maxCooks")
  if ("replace" %in% names(mc)) cols <- c(cols, "replace")
  df <- as.data.frame(mc[, cols])
  coefs <- coef(dds)
  colnames(coefs) <- paste0("coef_", colnames(coefs))
  write_gz(cbind(gene_id = rownames(dds), df, coefs), paste0(name, "_gene_fit.csv.gz"))
  f <- dispersionFunction(dds)
  cf <- attr(f, "coefficients")
  write.csv(data.frame(
    asymptDisp = unname(cf["asymptDisp"]), extraPois = unname(cf["extraPois"]),
    varLogDispEsts = attr(f, "varLogDispEsts"), dispPriorVar = attr(f, "dispPriorVar")
  ), file.path(dir, paste0(name, "_trend.csv")), row.names = FALSE)
}

# lowcount: ~ batch + condition, 9 samples
cts <- as.matrix(read.csv(file.path(dir, "lowcount_counts.csv.gz"), row.names = 1))
cd <- read.csv(file.path(dir, "lowcount_samples.csv"), row.names = 1, stringsAsFactors = TRUE)
dds <- DESeq(DESeqDataSetFromMatrix(cts, cd, ~ batch + condition), quiet = TRUE)
write_fit(dds, "lowcount")
res <- results(dds, contrast = c("condition", "treated", "control"))
write_res(res, "lowcount_wald.csv.gz")
filt <- write_filter(res, "wald")
res <- results(dds, contrast = c("condition", "treated", "control"), alpha = 0.05)
write_res(res, "lowcount_wald_alpha05.csv.gz")
filt <- rbind(filt, write_filter(res, "wald_alpha05"))
res <- results(dds, name = "batch_b2_vs_b1")
write_res(res, "lowcount_wald_batch.csv.gz")
filt <- rbind(filt, write_filter(res, "wald_batch"))
ddsl <- DESeq(dds, test = "LRT", reduced = ~ batch, quiet = TRUE)
res <- results(ddsl)
write_res(res, "lowcount_lrt.csv.gz")
filt <- rbind(filt, write_filter(res, "lrt"))
write.csv(filt, file.path(dir, "lowcount_filter.csv"), row.names = FALSE)

# outliers: ~ condition with levels A (27), B (27), C (6 samples: too few to replace outliers)
cts <- as.matrix(read.csv(file.path(dir, "outliers_counts.csv.gz"), row.names = 1))
cd <- read.csv(file.path(dir, "outliers_samples.csv"), row.names = 1, stringsAsFactors = TRUE)
dds <- DESeq(DESeqDataSetFromMatrix(cts, cd, ~ condition), quiet = TRUE)
write_fit(dds, "outliers")
res <- results(dds, contrast = c("condition", "B", "A"))
write_res(res, "outliers_wald_B_vs_A.csv.gz")
filt <- write_filter(res, "wald_B_vs_A")
res <- results(dds, contrast = c("condition", "C", "A"))
write_res(res, "outliers_wald_C_vs_A.csv.gz")
filt <- rbind(filt, write_filter(res, "wald_C_vs_A"))
ddsl <- DESeq(dds, test = "LRT", reduced = ~ 1, quiet = TRUE)
res <- results(ddsl)
write_res(res, "outliers_lrt.csv.gz")
filt <- rbind(filt, write_filter(res, "lrt"))
write.csv(filt, file.path(dir, "outliers_filter.csv"), row.names = FALSE)

# the LRT runs Cook's distances (and so maxCooks, replace) on other means than the Wald test
write_lrt_fit <- function(dds, name) {
  mc <- mcols(dds)
  cols <- intersect(c("maxCooks", "replace"), names(mc))
  write_gz(cbind(gene_id = rownames(dds), as.data.frame(mc[, cols, drop = FALSE])),
           paste0(name, "_lrt_gene_fit.csv.gz"))
}
write_lrt_fit(ddsl, "outliers")

# R's lowess on curves with ties, flat stretches, exact fits and DESeq2-like rejection curves:
# one row per point, with the case's arguments
set.seed(7003)
cases <- list()
add <- function(x, y, f = 2 / 3, iter = 3L, delta = NA) {
  d <- if (is.na(delta)) 0.01 * diff(range(x)) else delta
  fit <- lowess(x, y, f = f, iter = iter, delta = d)
  o <- order(x)
  cases[[length(cases) + 1]] <<- data.frame(
    case = length(cases) + 1, f = f, iter = iter, delta = d,
    x = x[o], y = y[o], fitted = fit$y
  )
}
for (i in 1:30) {
  n <- sample(5:120, 1)
  x <- sort(runif(n))
  if (i %% 4 == 0) x <- round(x * 10) / 10                  # ties
  y <- as.numeric(rpois(n, 20))
  if (i %% 3 == 0) y[seq_len(n %/% 2)] <- 7                  # a flat stretch
  if (i %% 5 == 0) y <- round(3 * x + 1)                    # mostly exact fits
  add(x, y, f = c(1 / 5, 2 / 3, 0.5, 0.3)[i %% 4 + 1], iter = c(3L, 0L, 1L, 5L)[i %% 4 + 1],
      delta = c(NA, 0, 0.05)[i %% 3 + 1])
}
for (i in 1:15) {                                           # numRej ~ theta, f = 1/5
  theta <- seq(runif(1, 0, 0.5), 0.95, length.out = 50)
  y <- pmax(0, floor(sample(15:400, 1) * sin(pi * theta) + rnorm(50, 0, 3)))
  add(theta, y, f = 1 / 5)
}
add(0:19, 2 * (0:19) + 1)                                  # an exact line
add(0:19, rep(5, 20))                                       # a constant
add(rep(0:9, 2), rep(0:1, each = 10))
add(rep(3, 6), 0:5)                                         # all x tied
x <- 0:29; y <- x; y[c(4, 18)] <- y[c(4, 18)] + c(50, -40); add(x, y, f = 0.4)
add(c(0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4), c(1, 2, 3, 2, 2, 5, 1, 1, 9, 1, 0), f = 0.3)
add(0:2, c(1, 5, 2))
lw <- do.call(rbind, cases)
lw[] <- lapply(lw, function(v) if (is.double(v)) signif(v, 17) else v)
con <- gzfile(file.path(dir, "lowess_cases.csv.gz"), "w")
write.csv(format(lw, digits = 17), con, row.names = FALSE, quote = FALSE)
close(con)

writeLines(capture.output(sessionInfo()), file.path(dir, "sessionInfo.txt"))
