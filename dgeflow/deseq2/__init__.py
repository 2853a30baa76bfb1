"""DESeq2 (Love, Huber & Anders 2014), vectorized over genes: size factors, dispersions (gene-wise,
trend, MAP), the negative binomial GLM, Wald and likelihood-ratio tests, Cook's distances,
independent filtering, shrinkage, VST and rlog. Entry point: :func:`dgeflow.deseq2.model.fit`
(``dgeflow.fit(..., method="deseq2")``)."""
