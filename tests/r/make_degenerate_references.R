# R references for degenerate data (issue #19): what DESeq2, edgeR and limma do where dgeflow
# must decide instead of failing. Data and references are written to
# tests/data/r_reference/degenerate/. Run from the repository root:
#   Rscript tests/r/make_degenerate_references.R
# (R 4.2.2, DESeq2 1.38.3, edgeR 3.40.2, limma 3.54.1 from Debian's packages; the tests never
# need R.) The counts are drawn here with fixed seeds (R's rnbinom, rbinom), so the files are
# reproducible.
#
# - allzero: every gene has a zero count, so DESeq2's median of ratios stops; the references
#   are the poscounts path (size factors, DESeq(), results(), blind VST and rlog).
# - poissonlike: counts less variable than Poisson (binomial), so DESeq() stops in the
#   dispersion trend; the references are DESeq2's own advice, gene-wise dispersions as final
#   ones (estimateDispersionsGeneEst, dispersions<-, nbinomWaldTest / nbinomLRT), and the
#   blind VST, whose design ~ 1 still has a trend.
# - flat: the same without any difference between the groups: the blind VST stops too.
# - tiny: 3 expressed genes and 2 all-zero ones; the first 1, 2 or 3 expressed genes with the
#   zero ones are the studies tiny1, tiny2, tiny3 (DESeq2, edgeR QL and limma-voom on each).
# - sparse: every count at most 3; DESeq2's parametric trend fails and it falls back to
#   locfit, as on tiny3 (where locfit's local fits have one point each).
# - locfit_cases: R's locfit(y ~ x, weights = w) with DESeq2's call on 1 to 60 points, and
#   predict() inside and beyond the data range.
suppressMessages({
  library(DESeq2)
  library(edgeR)
  library(limma)
})
dir <- file.path("tests", "data", "r_reference", "degenerate")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

write_gz <- function(df, file, digits = 10) {
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = digits)
  path <- file.path(dir, file)
  con <- if (grepl("[.]gz$", file)) gzfile(path, "w") else file(path, "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}

write_study <- function(cts, cd, name) {
  write.csv(cbind(gene_id = rownames(cts), as.data.frame(cts)),
            file.path(dir, paste0(name, "_counts.csv")), row.names = FALSE, quote = FALSE)
  write.csv(cbind(sample = rownames(cd), cd), file.path(dir, paste0(name, "_samples.csv")),
            row.names = FALSE, quote = FALSE)
}

write_res <- function(res, file) {
  df <- as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")]
  write_gz(cbind(gene_id = rownames(df), df), file)
}

write_matrix <- function(m, file) {
  write_gz(cbind(gene_id = rownames(m), as.data.frame(m)), file)
}

# the gene-level values of a fit that mcols() holds, and the coefficients (log2 scale)
write_mcols <- function(dds, cols, file) {
  mc <- mcols(dds)
  df <- as.data.frame(mc[, intersect(cols, names(mc)), drop = FALSE])
  coefs <- coef(dds)
  colnames(coefs) <- paste0("coef_", colnames(coefs))
  write_gz(cbind(gene_id = rownames(dds), df, coefs), file)
}

# where R stops: the first line of its error message, per case
messages <- data.frame(case = character(0), message = character(0))
stop_message <- function(case, expr) {
  msg <- tryCatch({
    force(expr)
    "no error"
  }, error = function(e) conditionMessage(e))
  messages[nrow(messages) + 1, ] <<- c(case, strsplit(msg, "\n")[[1]][1])
}

two_groups <- function(m) {
  data.frame(condition = factor(rep(c("control", "treated"), each = m / 2)),
             row.names = sprintf("s%d", seq_len(m)))
}

# ---- allzero: 150 genes x 8 samples, negative binomial, every gene with a zero count -------
set.seed(1905)
n <- 150; m <- 8
cd <- two_groups(m)
sf <- exp(runif(m, log(0.6), log(1.6)))
mean <- exp(rnorm(n, log(8), 1))
disp <- (0.05 + 1 / mean) * exp(rnorm(n, 0, 0.4))
lfc <- ifelse(runif(n) < 0.2, rnorm(n, 0, 1.5), 0)
mu <- outer(mean, sf) * 2^outer(lfc, as.numeric(cd$condition == "treated"))
cts <- matrix(rnbinom(n * m, mu = mu, size = 1 / disp), n, m,
              dimnames = list(sprintf("g%03d", 1:n), rownames(cd)))
# genes drawn without a zero lose their smallest count (a dropout)
nz <- which(rowSums(cts == 0) == 0)
cts[cbind(nz, apply(cts[nz, , drop = FALSE], 1, which.min))] <- 0L
write_study(cts, cd, "allzero")
dds <- DESeqDataSetFromMatrix(cts, cd, ~ condition)
stop_message("allzero_ratio", DESeq(dds, quiet = TRUE))
dds <- estimateSizeFactors(dds, type = "poscounts")
write.csv(data.frame(sample = colnames(dds), sizeFactor = signif(sizeFactors(dds), 15)),
          file.path(dir, "allzero_size_factors.csv"), row.names = FALSE, quote = FALSE)
dds <- DESeq(dds, quiet = TRUE)
stopifnot(attr(dispersionFunction(dds), "fitType") == "parametric")
cf <- attr(dispersionFunction(dds), "coefficients")
write.csv(data.frame(asymptDisp = unname(cf["asymptDisp"]), extraPois = unname(cf["extraPois"]),
                     varLogDispEsts = attr(dispersionFunction(dds), "varLogDispEsts"),
                     dispPriorVar = attr(dispersionFunction(dds), "dispPriorVar")),
          file.path(dir, "allzero_trend.csv"), row.names = FALSE)
write_mcols(dds, c("baseMean", "dispGeneEst", "dispFit", "dispersion", "maxCooks"),
            "allzero_gene_fit.csv.gz")
write_res(results(dds, contrast = c("condition", "treated", "control")), "allzero_wald.csv.gz")
# the sample QC's blind transformations with these size factors (vst() with nsub = 1000 stops on
# 150 genes and recommends varianceStabilizingTransformation, which dgeflow's QC then runs)
stop_message("allzero_vst_nsub", vst(dds))
write_matrix(assay(varianceStabilizingTransformation(dds, blind = TRUE)), "allzero_vst.csv.gz")
write_matrix(assay(rlog(dds, blind = TRUE)), "allzero_rlog.csv.gz")

# ---- poissonlike: 150 genes x 6 samples, binomial counts (variance 0.2 x mean) -------------
set.seed(1912)
n <- 150; m <- 6
cd <- two_groups(m)
sf <- exp(runif(m, log(0.6), log(1.6)))
mean <- exp(rnorm(n, log(40), 1.2))
lfc <- ifelse(runif(n) < 0.2, rnorm(n, 0, 1.5), 0)
mu <- outer(mean, sf) * 2^outer(lfc, as.numeric(cd$condition == "treated"))
cts <- matrix(rbinom(n * m, size = round(mu / 0.8), prob = 0.8), n, m,
              dimnames = list(sprintf("g%03d", 1:n), rownames(cd)))
write_study(cts, cd, "poissonlike")
dds <- DESeqDataSetFromMatrix(cts, cd, ~ condition)
stop_message("poissonlike_deseq", DESeq(dds, quiet = TRUE))
# DESeq2's advice, word for word from its error message
dds <- estimateSizeFactors(dds)
dds <- estimateDispersionsGeneEst(dds)
dispersions(dds) <- mcols(dds)$dispGeneEst
ddsw <- nbinomWaldTest(dds, quiet = TRUE)
write_mcols(ddsw, c("baseMean", "dispGeneEst", "dispersion", "deviance", "betaConv", "maxCooks"),
            "poissonlike_gene_fit.csv.gz")
write_res(results(ddsw, contrast = c("condition", "treated", "control")),
          "poissonlike_wald.csv.gz")
ddsl <- nbinomLRT(dds, reduced = ~ 1, quiet = TRUE)
write_res(results(ddsl), "poissonlike_lrt.csv.gz")
vsd <- varianceStabilizingTransformation(dds, blind = TRUE)
write_matrix(assay(vsd), "poissonlike_vst.csv.gz")

# ---- flat: 40 genes x 6 samples, binomial counts and no group differences ------------------
set.seed(1913)
n <- 40; m <- 6
cd <- two_groups(m)
mu <- outer(exp(rnorm(n, log(40), 1.2)), exp(runif(m, log(0.6), log(1.6))))
cts <- matrix(rbinom(n * m, size = round(mu / 0.8), prob = 0.8), n, m,
              dimnames = list(sprintf("g%03d", 1:n), rownames(cd)))
write_study(cts, cd, "flat")
dds <- estimateSizeFactors(DESeqDataSetFromMatrix(cts, cd, ~ condition))
stop_message("flat_vst", varianceStabilizingTransformation(dds, blind = TRUE))
stop_message("flat_rlog", rlog(dds, blind = TRUE))

# ---- tiny: 3 expressed genes and 2 all-zero ones, 6 samples --------------------------------
set.seed(1920)
m <- 6
cd <- two_groups(m)
mu <- outer(c(300, 80, 40), exp(runif(m, log(0.6), log(1.6)))) *
  2^outer(c(1, 0, -0.5), as.numeric(cd$condition == "treated"))
cts <- matrix(rnbinom(3 * m, mu = mu, size = 10), 3, m,
              dimnames = list(sprintf("g%d", 1:3), rownames(cd)))
cts <- rbind(cts, matrix(0L, 2, m, dimnames = list(c("z1", "z2"), rownames(cd))))
write_study(cts, cd, "tiny")
design <- model.matrix(~ condition, cd)
for (k in 1:3) {
  name <- paste0("tiny", k)
  x <- cts[c(seq_len(k), 4:5), ]
  dds <- DESeqDataSetFromMatrix(x, cd, ~ condition)
  stop_message(paste0(name, "_deseq"), dds2 <- DESeq(dds, quiet = TRUE))
  if (k == 2) {
    # one gene-wise estimate above 1e-6: the parametric fit has one point, locfit's fallback
    # is that gene's dispersion everywhere
    stopifnot(attr(dispersionFunction(dds2), "fitType") == "local")
    write_mcols(dds2, c("baseMean", "dispGeneEst", "dispFit", "dispersion", "maxCooks"),
                "tiny2_gene_fit.csv.gz")
    write_res(results(dds2, contrast = c("condition", "treated", "control")),
              "tiny2_wald.csv.gz")
    # the blind VST has two genes above 1e-6: locfit's neighbourhood is the point itself
    stop_message("tiny2_vst", varianceStabilizingTransformation(dds2, blind = TRUE))
    write_matrix(assay(varianceStabilizingTransformation(dds2, blind = TRUE, fitType = "mean")),
                 "tiny2_vst_mean.csv.gz")
  }
  if (k == 3) {
    stopifnot(attr(dispersionFunction(dds2), "fitType") == "local")
    write_mcols(dds2, c("baseMean", "dispGeneEst", "dispFit", "dispersion", "maxCooks"),
                "tiny3_gene_fit.csv.gz")
    write_res(results(dds2, contrast = c("condition", "treated", "control")),
              "tiny3_wald.csv.gz")
  }
  if (k == 1) {
    dds <- estimateDispersionsGeneEst(estimateSizeFactors(dds))
    dispersions(dds) <- mcols(dds)$dispGeneEst
    write_res(results(nbinomWaldTest(dds, quiet = TRUE),
                      contrast = c("condition", "treated", "control")),
              "tiny1_genewise_wald.csv.gz")
  }
  y <- DGEList(x)
  keep <- filterByExpr(y, design)
  y <- calcNormFactors(y[keep, , keep.lib.sizes = FALSE])
  y <- estimateDisp(y, design)
  fit <- glmQLFit(y, design)
  qlf <- glmQLFTest(fit, coef = 2)$table
  write_gz(data.frame(gene_id = rownames(qlf), qlf, df.prior = fit$df.prior,
                      var.post = fit$var.post), paste0(name, "_qlf.csv"))
  stop_message(paste0(name, "_voom"), v <- voom(y, design))
  if (k > 1) {
    tt <- topTable(eBayes(lmFit(v, design)), coef = 2, number = Inf, sort.by = "none")
    write_gz(data.frame(gene_id = rownames(tt), tt), paste0(name, "_voom.csv"))
  }
}

# ---- twotrend: 4 genes, 2 of them with a gene-wise dispersion above 1e-6 -------------------
# the parametric trend fails on the 2 and locfit cannot fit them: DESeq() stops; fitType =
# "mean" is R's way through
cts <- matrix(c(109, 91, 54, 67, 76, 80, 85, 146, 127, 87, 107, 81, 61, 70, 44, 81, 69, 101,
                20, 16, 15, 8, 16, 23), 4, byrow = TRUE,
              dimnames = list(sprintf("g%d", 1:4), sprintf("s%d", 1:6)))
cd <- two_groups(6)
write_study(cts, cd, "twotrend")
dds <- DESeqDataSetFromMatrix(cts, cd, ~ condition)
stop_message("twotrend_deseq", DESeq(dds, quiet = TRUE))
dds <- DESeq(dds, fitType = "mean", quiet = TRUE)
write_mcols(dds, c("baseMean", "dispGeneEst", "dispFit", "dispersion", "maxCooks"),
            "twotrend_mean_gene_fit.csv.gz")
write_res(results(dds, contrast = c("condition", "treated", "control")),
          "twotrend_mean_wald.csv.gz")

# ---- sparse: 120 genes x 6 samples, Poisson(1) counts capped at 3 --------------------------
set.seed(1930)
n <- 120; m <- 6
cd <- two_groups(m)
cts <- matrix(pmin(rpois(n * m, 1), 3L), n, m, dimnames = list(sprintf("g%03d", 1:n), rownames(cd)))
write_study(cts, cd, "sparse")
dds <- DESeq(DESeqDataSetFromMatrix(cts, cd, ~ condition), quiet = TRUE)
stopifnot(attr(dispersionFunction(dds), "fitType") == "local")
write_mcols(dds, c("baseMean", "dispGeneEst", "dispFit", "dispersion", "maxCooks"),
            "sparse_gene_fit.csv.gz")
write_res(results(dds, contrast = c("condition", "treated", "control")), "sparse_wald.csv.gz")
write_matrix(assay(varianceStabilizingTransformation(dds, blind = TRUE)), "sparse_vst.csv.gz")

# ---- locfit_cases: DESeq2's locfit call on few points, predicted in and beyond the range ----
suppressMessages(library(locfit))
set.seed(1931)
cases <- list()
for (case in 1:10) {
  n <- c(1, 3, 3, 4, 5, 6, 8, 12, 25, 60)[case]
  logm <- rnorm(n, 3, 1.5)
  if (case == 3) logm <- round(logm, 1)
  logd <- rnorm(n, -2 - 0.3 * logm, 0.5)
  fit <- locfit(logDisps ~ logMeans, data = data.frame(logDisps = logd, logMeans = logm),
                weights = exp(logm))
  at <- c(logm, seq(min(logm) - 2, max(logm) + 2, length.out = 8))
  cases[[case]] <- data.frame(case = case, logMeans = c(logm, rep(NA, 8)),
                              logDisps = c(logd, rep(NA, 8)), at = at,
                              predicted = predict(fit, data.frame(logMeans = at)))
}
write_gz(do.call(rbind, cases), "locfit_cases.csv.gz", digits = 15)

# ---- edgeR's unit deviance in its three regimes (Poisson-like, NB, gamma-like) -------------
# below dispersion 1e-4 edgeR's C++ uses an expansion (tiny studies sit there: tiny2, tiny3)
grid <- expand.grid(y = c(0, 3, 173, 1e7), mu = c(0.3, 4, 177.254382562574, 2e7),
                    dispersion = c(0, 5e-5, 9.765625e-5, 1e-3, 0.2, 10))
grid$deviance <- mapply(function(y, mu, d) nbinomUnitDeviance(y, mu, d),
                        grid$y, grid$mu, grid$dispersion)
write_gz(grid, "edger_unit_deviance.csv", digits = 15)

write.csv(messages, file.path(dir, "messages.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(dir, "sessionInfo.txt"))
