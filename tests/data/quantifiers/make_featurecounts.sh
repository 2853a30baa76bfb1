#!/usr/bin/env bash
# Makes featurecounts.txt with the real featureCounts (Debian's subread) from small SAM files
# written here: two multi-exon genes and a single-exon one on a toy chromosome, three samples
# whose BAMs sit in a folder with aligner-style suffixes. Run from this folder; needs subread
# and samtools (the tests only read the committed output).
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > genes.gtf <<'GTF'
chrT	toy	exon	101	200	.	+	.	gene_id "geneA"; transcript_id "geneA.1"; gene_name "ALPHA";
chrT	toy	exon	301	400	.	+	.	gene_id "geneA"; transcript_id "geneA.1"; gene_name "ALPHA";
chrT	toy	exon	1001	1100	.	-	.	gene_id "geneB"; transcript_id "geneB.1"; gene_name "BETA";
chrT	toy	exon	1201	1250	.	-	.	gene_id "geneB"; transcript_id "geneB.1"; gene_name "BETA";
chrT	toy	exon	1401	1500	.	-	.	gene_id "geneB"; transcript_id "geneB.2"; gene_name "BETA";
chrT	toy	exon	2001	2300	.	+	.	gene_id "geneC"; transcript_id "geneC.1"; gene_name "GAMMA";
GTF
mkdir -p "$tmp/bams"
seq50=$(printf 'A%.0s' $(seq 1 50))
qual50=$(printf 'I%.0s' $(seq 1 50))
i=0
for sample in S1 S2 S3; do
  sam="$tmp/$sample.sam"
  printf '@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:chrT\tLN:3000\n' > "$sam"
  # reads per gene differ by sample; starts inside exons (50 bp reads)
  n_a=$((10 + 5 * i)); n_b=$((30 - 7 * i)); n_c=$((3 + i))
  for k in $(seq 1 $n_a); do printf 'rA%d\t0\tchrT\t%d\t60\t50M\t*\t0\t0\t%s\t%s\n' "$k" $((110 + (k * 7) % 250)) "$seq50" "$qual50" >> "$sam"; done
  for k in $(seq 1 $n_b); do printf 'rB%d\t16\tchrT\t%d\t60\t50M\t*\t0\t0\t%s\t%s\n' "$k" $((1005 + (k * 11) % 450)) "$seq50" "$qual50" >> "$sam"; done
  for k in $(seq 1 $n_c); do printf 'rC%d\t0\tchrT\t%d\t60\t50M\t*\t0\t0\t%s\t%s\n' "$k" $((2010 + k * 13)) "$seq50" "$qual50" >> "$sam"; done
  samtools sort -o "$tmp/bams/$sample.Aligned.sortedByCoord.out.bam" "$sam" 2>/dev/null
  i=$((i + 1))
done
featureCounts -a genes.gtf -o "$tmp/fc.txt" "$tmp"/bams/*.bam > /dev/null 2>&1
# keep the real file, with the temporary folder in its paths shortened to bams/
sed "s#$tmp/##g" "$tmp/fc.txt" > featurecounts.txt
sed "s#$tmp/##g" "$tmp/fc.txt.summary" > featurecounts.txt.summary
