# References for dgeflow.qc.remove_nuisance (the batch-aware PCA) from limma's
# removeBatchEffect, in tests/data/r_reference/remove_batch_effect_*.tsv. Run from the
# repository root:  Rscript tests/r/make_remove_batch_effect.R
# (R 4.2.2, limma 3.54.1 from Debian's packages; the tests never need R.)
#
# The script writes its own input: 200 genes x 14 samples of log-scale values from a seed
# (rounded to 6 decimals, so that R and Python read the very same doubles), with unbalanced
# factors sex (2 levels), strain (3), treatment (2) and a numeric covariate age, so that the
# sum-to-zero coding and the centring of the covariate matter.
#
# limma 3.54.1 passes `covariates` to the fit as given; dgeflow centres numeric covariates (so
# a corrected gene keeps its level at the mean age), which is removeBatchEffect on the centred
# covariate: it is passed here as age - mean(age). Without centring the result differs from
# these by a constant per gene (the covariate's coefficient times its mean).
suppressMessages(library(limma))
dir <- file.path("tests", "data", "r_reference")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

set.seed(20261202)
ids <- sprintf("S%02d", 1:14)
sex <- c("F", "F", "F", "M", "M", "F", "M", "M", "F", "F", "M", "M", "M", "F")
strain <- c("B6", "B6", "C3H", "B6", "DBA", "DBA", "C3H", "B6", "C3H", "DBA", "DBA", "C3H",
            "B6", "B6")
treatment <- c("control", "treated", "control", "treated", "control", "treated", "treated",
               "control", "treated", "control", "treated", "control", "treated", "treated")
age <- round(runif(14, 6, 30), 1)
samples <- data.frame(sample_id = ids, sex = sex, strain = strain, treatment = treatment,
                      age = age)
# every sex x strain and strain x treatment cell is filled: the interaction designs below
# have full rank
stopifnot(all(table(sex, strain) > 0), all(table(strain, treatment) > 0))

n_genes <- 200
effect <- function(sd) matrix(rnorm(n_genes, 0, sd), n_genes, 1)
ind <- function(values, level) matrix(as.numeric(values == level), 1)
x <- matrix(rnorm(n_genes, 8, 2), n_genes, 14) +
  effect(1.5) %*% ind(sex, "M") +
  effect(1.0) %*% ind(strain, "C3H") + effect(1.2) %*% ind(strain, "DBA") +
  effect(0.8) %*% ind(treatment, "treated") +
  effect(0.05) %*% matrix(age, 1) +
  effect(0.5) %*% (ind(strain, "DBA") * ind(treatment, "treated")) +
  matrix(rnorm(n_genes * 14, 0, 0.3), n_genes, 14)
x <- round(x, 6)
dimnames(x) <- list(sprintf("g%03d", seq_len(n_genes)), ids)

write_tsv <- function(m, file) {
  out <- data.frame(gene_id = rownames(m), signif(m, 15), check.names = FALSE)
  write.table(out, file.path(dir, file), sep = "\t", quote = FALSE, row.names = FALSE)
}
write.table(samples, file.path(dir, "remove_batch_effect_samples.tsv"), sep = "\t",
            quote = FALSE, row.names = FALSE)
write_tsv(x, "remove_batch_effect_input.tsv")

sex <- factor(sex)
strain <- factor(strain)
treatment <- factor(treatment)
age_centred <- age - mean(age)
keep_treatment <- model.matrix(~treatment)

# design ~ sex + strain + age + treatment, keeping treatment: two batches and a covariate
write_tsv(removeBatchEffect(x, batch = sex, batch2 = strain, covariates = age_centred,
                            design = keep_treatment),
          "remove_batch_effect_sex_strain_age.tsv")
# design ~ strain + treatment, keeping treatment: one batch
write_tsv(removeBatchEffect(x, batch = strain, design = keep_treatment),
          "remove_batch_effect_strain.tsv")
# design ~ sex + strain + age + treatment, keeping strain: treatment is the nuisance now
write_tsv(removeBatchEffect(x, batch = sex, batch2 = treatment, covariates = age_centred,
                            design = model.matrix(~strain)),
          "remove_batch_effect_keep_strain.tsv")
# design ~ sex + age + strain * treatment, keeping treatment: strain:treatment stays with
# treatment, in treatment coding (reference levels control and B6) beside the intercept
treated <- as.numeric(treatment == "treated")
kept <- cbind(Intercept = 1, treated = treated,
              C3H_treated = as.numeric(strain == "C3H") * treated,
              DBA_treated = as.numeric(strain == "DBA") * treated)
write_tsv(removeBatchEffect(x, batch = sex, batch2 = strain, covariates = age_centred,
                            design = kept),
          "remove_batch_effect_interaction_kept.tsv")
# design ~ sex * strain + treatment, keeping treatment: sex, strain and sex:strain, which
# together are the sum-to-zero coding of the six sex x strain cells
write_tsv(removeBatchEffect(x, batch = interaction(sex, strain), design = keep_treatment),
          "remove_batch_effect_sex_by_strain.tsv")
# design ~ strain + line + treatment with line a relabelled copy of strain: its columns are
# aliased, lmFit gives them NA coefficients and removeBatchEffect removes nothing for them
line <- factor(c(B6 = "L1", C3H = "L3", DBA = "L2")[as.character(strain)])
write_tsv(suppressWarnings(removeBatchEffect(x, batch = strain, batch2 = line,
                                             design = keep_treatment)),
          "remove_batch_effect_aliased.tsv")
