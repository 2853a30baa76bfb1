"""DESeq2 (Love, Huber & Anders 2014), vectorized over genes: size factors, dispersions (gene-wise,
trend, MAP), the negative binomial GLM, Wald and likelihood-ratio tests, Cook's distances,
independent filtering, shrinkage, VST and rlog. Entry point: :func:`dgeflow.deseq2.model.fit`
(``dgeflow.fit(..., method="deseq2")``).

Layout: ``model`` (``fit()`` and the :class:`~dgeflow.deseq2.model.DESeqFit` object), ``pipeline``
(the fitting steps in their blocked two passes), ``results`` (the steps of ``results()``),
``transforms`` (blind VST and rlog, Cook's distances per sample), ``inputs`` (checks of what
``fit()`` is given), ``gene_fit`` (the per-gene arrays a fit keeps); the numerical kernels
``dispersion``, ``trend``, ``glm``, ``cooks``, ``hypothesis``, ``filtering``, ``shrink``,
``vst``, ``rlog``; and ``blocks`` (gene blocks and row chunks), which imports none of them.
The layers import downwards only: nothing imports ``model``, so there is no import cycle.
"""
