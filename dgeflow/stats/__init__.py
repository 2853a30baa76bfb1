"""R-exact statistical kernels on arrays: the negative binomial, lowess, R's random numbers,
R's summary statistics, multiple testing, F-distribution fits and filterByExpr. Nothing here
imports another dgeflow layer."""
