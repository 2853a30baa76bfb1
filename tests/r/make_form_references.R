# A simulated study and R's answers to every contrast form dgeflow's engines take (a level
# contrast, a coefficient, combinations of coefficients, a numeric covariate's slope, a subset
# with its own design, a paired design, and likelihood-ratio / F tests of dropped terms), each
# with DESeq2, edgeR quasi-likelihood and limma-voom; written to tests/data/r_reference/forms/
# for tests/test_parity_forms.py. Run from the repository root:
#   Rscript tests/r/make_form_references.R
# (R 4.2.2, DESeq2 1.38.3, edgeR 3.40.2, limma 3.54.1 from Debian's packages; the tests never
# need R.)
#
# The study: 24 samples = genotype (A, B) x treatment (ctl, trt) x tissue (kidney, liver) x 3
# replicates. One animal ("subject", 12 of them) gives a kidney and a liver sample; its age
# (20..60, one decimal) is a numeric covariate. Replicate r of a genotype is a litter with one
# ctl and one trt animal, and each tissue of a litter was processed together: "pair" (12 of
# them) is the matched ctl/trt pair of one genotype, tissue and replicate, with its own random
# effect. The paired design (form 6) is "~ pair + treatment" on the genotype-A samples:
# treatment varies within a pair, whereas it is constant within a subject (whose two samples
# differ in tissue), so "~ subject + treatment" would not be estimable.
# 1,000 genes of negative binomial counts: log-normal means (median 40), dispersions
# 0.05 + 1 / mean with log-normal scatter (mostly 0.05..0.3); log2 effects of genotype in 5%
# of the genes, treatment 8%, genotype:treatment 4%, an age slope 3%, tissue 20%, and random
# effects of subject (sd 0.1, natural log) and pair (sd 0.2).
suppressMessages({library(DESeq2); library(edgeR); library(limma)})
dir <- file.path("tests", "data", "r_reference", "forms")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

# ---- the simulation ------------------------------------------------------------------------
set.seed(20250611)
G <- 1000
cd <- expand.grid(tissue = c("kidney", "liver"), rep = 1:3, treatment = c("ctl", "trt"),
                  genotype = c("A", "B"), stringsAsFactors = FALSE)
cd <- cd[, c("genotype", "treatment", "tissue", "rep")]
animal <- with(cd, interaction(genotype, treatment, rep, lex.order = TRUE, drop = TRUE))
cd$subject <- sprintf("M%02d", as.integer(animal))
litter_tissue <- with(cd, interaction(genotype, tissue, rep, lex.order = TRUE, drop = TRUE))
cd$pair <- sprintf("P%02d", as.integer(litter_tissue))
age <- round(runif(12, 20, 60), 1)
cd$age <- age[as.integer(animal)]
rownames(cd) <- sprintf("s%02d", seq_len(nrow(cd)))
cd$rep <- NULL
stopifnot(all(table(cd$subject) == 2), all(table(cd$pair) == 2),
          all(tapply(cd$tissue, cd$subject, function(t) length(unique(t))) == 2),
          all(tapply(cd$treatment, cd$pair, function(t) length(unique(t))) == 2))

genes <- sprintf("g%04d", seq_len(G))
mean0 <- exp(rnorm(G, log(40), 1.8))
disp <- (0.05 + 1 / mean0) * exp(rnorm(G, 0, 0.35))
effect <- function(frac, lo, hi) {
  on <- runif(G) < frac
  ifelse(on, sample(c(-1, 1), G, replace = TRUE) * runif(G, lo, hi), 0)
}
b_genotype <- effect(0.05, 1, 3)
b_treatment <- effect(0.08, 1, 3)
b_interaction <- effect(0.04, 1.5, 3.5)
b_age <- effect(0.03, 0.04, 0.08)  # log2 per year
b_tissue <- effect(0.20, 0.5, 3)
u_subject <- matrix(rnorm(G * 12, 0, 0.1), G)
u_pair <- matrix(rnorm(G * 12, 0, 0.2), G)
gB <- cd$genotype == "B"; tT <- cd$treatment == "trt"; liver <- cd$tissue == "liver"
log2mu <- outer(b_genotype, gB) + outer(b_treatment, tT) + outer(b_interaction, gB & tT) +
  outer(b_age, cd$age - 40) + outer(b_tissue, liver)
sf <- exp(rnorm(nrow(cd), 0, 0.2))
mu <- mean0 * 2^log2mu * exp(u_subject[, as.integer(factor(cd$subject))] +
                              u_pair[, as.integer(factor(cd$pair))])
mu <- sweep(mu, 2, sf, "*")
cts <- matrix(rnbinom(length(mu), mu = mu, size = 1 / disp), G,
              dimnames = list(genes, rownames(cd)))

con <- gzfile(file.path(dir, "counts.csv.gz"), "w")
write.csv(data.frame(gene_id = genes, cts, check.names = FALSE), con, row.names = FALSE,
          quote = FALSE)
close(con)
write.csv(data.frame(sample = rownames(cd), cd), file.path(dir, "samples.csv"),
          row.names = FALSE, quote = FALSE)

# ---- the sample sheet as the tests read it -----------------------------------------------------
cd <- read.csv(file.path(dir, "samples.csv"), row.names = 1)
cd$genotype <- factor(cd$genotype, c("A", "B"))
cd$treatment <- factor(cd$treatment, c("ctl", "trt"))
cd$tissue <- factor(cd$tissue, c("kidney", "liver"))
cd$subject <- factor(cd$subject)
cd$pair <- factor(cd$pair)

write_gz <- function(df, file) {
  num <- vapply(df, is.numeric, logical(1))
  df[num] <- lapply(df[num], signif, digits = 8)
  con <- gzfile(file.path(dir, file), "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
}

# one fit of a design on a subset of the samples, with every engine; the edgeR and limma design
# matrices take DESeq2's coefficient names (resultsNames), which are also dgeflow's
fit_all <- function(formula, subset = rep(TRUE, nrow(cd)), test = "Wald", reduced = NULL) {
  s <- droplevels(cd[subset, ])
  x <- cts[, rownames(s)]
  dds <- DESeqDataSetFromMatrix(x, s, formula)
  dds <- if (test == "LRT") DESeq(dds, test = "LRT", reduced = reduced, quiet = TRUE)
         else DESeq(dds, quiet = TRUE)
  design <- model.matrix(formula, s)
  mm <- attr(dds, "modelMatrix")
  stopifnot(all.equal(unname(design), unname(mm), check.attributes = FALSE))
  colnames(design) <- colnames(mm)
  y <- DGEList(x)
  y <- calcNormFactors(y[filterByExpr(y, design), , keep.lib.sizes = FALSE])
  ql <- glmQLFit(estimateDisp(y, design), design)
  v <- voom(y, design)
  list(dds = dds, design = design, ql = ql, lm = lmFit(v, design))
}
deseq_tab <- function(res) {
  df <- as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")]
  cbind(gene_id = rownames(df), df)
}
edger_tab <- function(qlf) {
  tt <- topTags(qlf, n = Inf, sort.by = "none")$table
  cbind(gene_id = rownames(tt), tt)
}
limma_tab <- function(tt) cbind(gene_id = rownames(tt), tt)
cvec <- function(f, plus = character(0), minus = character(0)) {
  v <- setNames(numeric(ncol(f$design)), colnames(f$design))
  v[plus] <- v[plus] + 1
  v[minus] <- v[minus] - 1
  unname(v)
}
# a form answered by all three engines: "contrast" is DESeq2's, plus/minus name coefficients
write_form <- function(f, name, contrast, plus = character(0), minus = character(0),
                       coef = NULL) {
  write_gz(deseq_tab(if (is.character(contrast) && length(contrast) == 1)
                       results(f$dds, name = contrast)
                     else results(f$dds, contrast = contrast)),
           paste0(name, "_deseq2.csv.gz"))
  eb <- eBayes(f$lm)
  if (!is.null(coef)) {
    write_gz(edger_tab(glmQLFTest(f$ql, coef = coef)), paste0(name, "_edger.csv.gz"))
    tt <- topTable(eb, coef = coef, number = Inf, sort.by = "none")
  } else {
    vec <- cvec(f, plus, minus)
    write_gz(edger_tab(glmQLFTest(f$ql, contrast = vec)), paste0(name, "_edger.csv.gz"))
    tt <- topTable(eBayes(contrasts.fit(f$lm, vec)), number = Inf, sort.by = "none")
  }
  write_gz(limma_tab(tt), paste0(name, "_limma.csv.gz"))
}

# forms 1-4: ~ genotype * treatment + age on all 24 samples
f <- fit_all(~ genotype * treatment + age)
stopifnot(identical(resultsNames(f$dds), c("Intercept", "genotype_B_vs_A",
  "treatment_trt_vs_ctl", "age", "genotypeB.treatmenttrt")))
write_form(f, "level_treatment", c("treatment", "trt", "ctl"), plus = "treatment_trt_vs_ctl")
write_form(f, "coef_interaction", "genotypeB.treatmenttrt", coef = "genotypeB.treatmenttrt")
write_form(f, "plus_treatment_interaction",
           list(c("treatment_trt_vs_ctl", "genotypeB.treatmenttrt")),
           plus = c("treatment_trt_vs_ctl", "genotypeB.treatmenttrt"))
write_form(f, "minus_genotype_interaction", list("genotype_B_vs_A", "genotypeB.treatmenttrt"),
           plus = "genotype_B_vs_A", minus = "genotypeB.treatmenttrt")
write_form(f, "coef_age", "age", coef = "age")

# form 5: the liver samples only, ~ genotype + treatment
f <- fit_all(~ genotype + treatment, cd$tissue == "liver")
write_form(f, "liver_treatment", c("treatment", "trt", "ctl"), plus = "treatment_trt_vs_ctl")

# form 6: the genotype-A samples only, paired: ~ pair + treatment (6 pairs)
f <- fit_all(~ pair + treatment, cd$genotype == "A")
stopifnot(ncol(f$design) == 7, tail(colnames(f$design), 1) == "treatment_trt_vs_ctl")
write_form(f, "paired_treatment", c("treatment", "trt", "ctl"), plus = "treatment_trt_vs_ctl")

# form 7: tests of the terms a reduced design drops. DESeq2: DESeq(test = "LRT") and
# results() (log2FoldChange of the last coefficient); edgeR: glmQLFTest(coef = the dropped
# columns), the QL F-test; limma: topTable(coef = the dropped columns), the moderated F-test
# for several (a column per coefficient, AveExpr, F, P.Value, adj.P.Val) and the moderated
# t-test, its square root, for one (logFC, AveExpr, t, P.Value, adj.P.Val, B)
write_lrt <- function(formula, reduced, dropped, name) {
  f <- fit_all(formula, test = "LRT", reduced = reduced)
  write_gz(deseq_tab(results(f$dds)), paste0(name, "_deseq2.csv.gz"))
  write_gz(edger_tab(glmQLFTest(f$ql, coef = dropped)), paste0(name, "_edger.csv.gz"))
  tt <- topTable(eBayes(f$lm), coef = dropped, number = Inf, sort.by = "none")
  write_gz(limma_tab(tt), paste0(name, "_limma.csv.gz"))
}
write_lrt(~ genotype + treatment, ~ treatment, "genotype_B_vs_A", "lrt_genotype")
write_lrt(~ genotype * treatment, ~ treatment, c("genotype_B_vs_A", "genotypeB.treatmenttrt"),
          "lrt_genotype_2df")

writeLines(capture.output(sessionInfo()), file.path(dir, "sessionInfo.txt"))
