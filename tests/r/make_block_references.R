# References for limma's blocking of repeated measures (duplicateCorrelation and lmFit with
# block/correlation), as the limma User's Guide runs it for voom, for tests/test_limma_block.py.
# Run from the repository root:
#   Rscript tests/r/make_block_references.R
# (R 4.2.2, edgeR 3.40.2, limma 3.54.1, statmod 1.5.0 from Debian's packages; the tests never
# need R.) Everything is simulated here with set.seed, so the script rewrites the same files.
suppressMessages({library(edgeR); library(limma)})
dir <- file.path("tests", "data", "r_reference", "block")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

write_gz <- function(df, file, digits = 10) {
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = digits)
  con <- gzfile(file.path(dir, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}
top <- function(eb, coef) {
  tt <- topTable(eb, coef = coef, number = Inf, sort.by = "none")
  cbind(gene_id = rownames(tt), tt[, c("logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B")])
}

## ---- "repeated": 2 groups x 3 subjects x 2 timepoints, subjects nested in groups ----------
# The group is a between-subject factor, so the subject cannot be a fixed effect beside it:
# only a random (block) effect can account for the subjects.
set.seed(20240611)
n_genes <- 600
samples <- data.frame(
  sample = sprintf("S%02d", 1:12),
  subject = rep(sprintf("P%d", 1:6), each = 2),
  group = rep(c("ctrl", "trt"), each = 6),
  time = rep(c("pre", "post"), times = 6)
)
samples$condition <- paste(samples$group, samples$time, sep = "_")
base <- exp(rnorm(n_genes, log(40), 1.7))         # wide range: filterByExpr drops some genes
disp <- 0.02 + 0.4 / sqrt(base)                   # NB dispersion falling with the mean
subject_sd <- sqrt(rgamma(n_genes, shape = 2, rate = 12))   # gene-wise subject effect size
subject_eff <- matrix(rnorm(n_genes * 6), n_genes, 6) * subject_sd
group_lfc <- ifelse(runif(n_genes) < 0.12, rnorm(n_genes, 0, 1.2), 0)
time_lfc <- ifelse(runif(n_genes) < 0.12, rnorm(n_genes, 0, 1), 0)
inter_lfc <- ifelse(runif(n_genes) < 0.05, rnorm(n_genes, 0, 1), 0)
lib <- runif(12, 0.6, 1.5)
trt <- samples$group == "trt"
post <- samples$time == "post"
subj <- as.integer(factor(samples$subject))
log_mu <- log(base) + subject_eff[, subj] + outer(group_lfc, trt) + outer(time_lfc, post) +
  outer(inter_lfc, trt & post)
mu <- exp(log_mu) * rep(lib, each = n_genes)
counts <- matrix(rnbinom(length(mu), mu = mu, size = 1 / disp), n_genes, 12,
                 dimnames = list(sprintf("g%04d", 1:n_genes), samples$sample))
write_gz(cbind(gene_id = rownames(counts), as.data.frame(counts)), "repeated_counts.csv.gz")
write.csv(samples, file.path(dir, "repeated_samples.csv"), row.names = FALSE, quote = FALSE)

# the cell-means design: a between-subject and a within-subject contrast
condition <- factor(samples$condition)
subject <- samples$subject
design <- model.matrix(~ 0 + condition)
cm <- makeContrasts(
  between = (conditiontrt_pre + conditiontrt_post - conditionctrl_pre - conditionctrl_post) / 2,
  within = conditiontrt_post - conditiontrt_pre,
  levels = design
)
blocked <- function(counts, design) {
  y <- DGEList(counts)
  keep <- filterByExpr(y, design)
  y <- calcNormFactors(y[keep, , keep.lib.sizes = FALSE])
  v <- voom(y, design)
  corfit1 <- duplicateCorrelation(v, design, block = subject)
  v <- voom(y, design, block = subject, correlation = corfit1$consensus)
  corfit2 <- duplicateCorrelation(v, design, block = subject)
  fit <- lmFit(v, design, block = subject, correlation = corfit2$consensus)
  list(y = y, keep = keep, v = v, corfit1 = corfit1, corfit2 = corfit2, fit = fit)
}
elapsed <- system.time(for (i in 1:5) r <- blocked(counts, design))[["elapsed"]] / 5
cat(sprintf("repeated: blocked voom fit (filterByExpr to lmFit) %.3f s per run\n", elapsed))
eb <- eBayes(contrasts.fit(r$fit, cm))
for (k in colnames(cm)) write_gz(top(eb, k), paste0("repeated_", k, ".csv.gz"))
write.csv(data.frame(round = 1:2, consensus = c(r$corfit1$consensus, r$corfit2$consensus)),
          file.path(dir, "repeated_consensus.csv"), row.names = FALSE)
write_gz(data.frame(gene_id = rownames(r$v$E),
                    atanh_round1 = r$corfit1$atanh.correlations,
                    atanh_round2 = r$corfit2$atanh.correlations,
                    weight_sum = rowSums(r$v$weights),
                    sigma = r$fit$sigma),
         "repeated_correlations.csv.gz")

# the kernel alone: duplicateCorrelation of the log-CPM values with no weights
e <- voom(r$y, design)$E
dc <- duplicateCorrelation(e, design, block = subject)
write_gz(data.frame(gene_id = rownames(e), atanh = dc$atanh.correlations),
         "repeated_logcpm_dupcor.csv.gz")
write.csv(data.frame(consensus = dc$consensus), file.path(dir, "repeated_logcpm_consensus.csv"),
          row.names = FALSE)

## ---- "kernel": unbalanced blocks, a numeric covariate, and degenerate genes --------------
# Normal values rounded to 6 decimals (read back as written); blocks of 3, 3, 2, 2, 1, 1 and
# 2 samples; genes made to hit limma's bounds: block effects far above the noise (rho > 0.99)
# and blocks that anti-correlate (rho < 1/(1 - 3) + 0.01), and one outlying sample. (A gene
# with no variation at all is left out: its residuals are rounding noise, so its correlation
# is too, in R as anywhere.)
set.seed(7)
kg <- 200
ks <- data.frame(
  sample = sprintf("K%02d", 1:14),
  block = c("a", "a", "a", "b", "b", "b", "c", "c", "d", "d", "e", "f", "g", "g"),
  group = c("x", "x", "x", "y", "y", "y", "x", "x", "y", "y", "x", "y", "x", "y"),
  dose = round(runif(14, 0, 3), 2)
)
kdesign <- model.matrix(~ group + dose, ks)
kb <- as.integer(factor(ks$block))
block_sd <- sqrt(rgamma(kg, shape = 1.5, rate = 3))
E <- 5 + matrix(rnorm(kg * 7), kg, 7)[, kb] * block_sd + matrix(rnorm(kg * 14), kg, 14)
E[1, 5] <- E[1, 5] + 8                                   # one outlier
E[2, ] <- 4 + 10 * c(1, 1, 1, -1, -1, -1, 2, 2, 0, 0, 1, -2, -1, -1) + rnorm(14, 0, 0.001)
E[3, ] <- 4 + c(1, -1, 0, 1, -1, 0, 1, -1, 1, -1, 0, 0, 1, -1) * 2   # within-block contrast
E <- round(E, 6)
dimnames(E) <- list(sprintf("k%03d", 1:kg), ks$sample)
write_gz(cbind(gene_id = rownames(E), as.data.frame(E)), "kernel_values.csv.gz", digits = 15)
write.csv(ks, file.path(dir, "kernel_samples.csv"), row.names = FALSE, quote = FALSE)
dc <- duplicateCorrelation(E, kdesign, block = ks$block)
# with weights: a smooth function of the values, so the Python side can rebuild them exactly
W <- round(1 / (1 + (E - 5)^2 / 20), 6)
dcw <- duplicateCorrelation(E, kdesign, block = ks$block, weights = W)
write_gz(data.frame(gene_id = rownames(E), atanh = dc$atanh.correlations,
                    atanh_weighted = dcw$atanh.correlations), "kernel_dupcor.csv.gz")
write.csv(data.frame(weights = c(FALSE, TRUE), consensus = c(dc$consensus, dcw$consensus)),
          file.path(dir, "kernel_consensus.csv"), row.names = FALSE)
# lmFit with block and correlation and no weights (gls.series' common-whitening branch)
kfit <- eBayes(lmFit(E, kdesign, block = ks$block, correlation = dc$consensus))
write_gz(cbind(gene_id = rownames(E), data.frame(
  coef_dose = kfit$coefficients[, "dose"], stdev_dose = kfit$stdev.unscaled[, "dose"],
  sigma = kfit$sigma, t_dose = kfit$t[, "dose"], p_dose = kfit$p.value[, "dose"])),
  "kernel_gls.csv.gz")
