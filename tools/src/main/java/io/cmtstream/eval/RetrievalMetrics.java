package io.cmtstream.eval;

import java.util.List;

/**
 * Accumulates retrieval quality over questions that each have exactly one gold document (SQuAD: the paragraph the
 * question was asked about): recall@k (the share of questions whose gold document is among the first k) and mean
 * reciprocal rank.
 *
 * <p>Only as deep as the ranked lists given: recall@k for k beyond their length and MRR count a gold document
 * outside the list as not found (so MRR over top-10 lists is MRR@10). Figures are fractions in [0, 1], NaN before
 * the first question. Not thread-safe: one accumulator per evaluation run.
 */
public final class RetrievalMetrics {

    /** The cut-offs the reports use. */
    public static final List<Integer> REPORTED_KS = List.of(1, 5, 10);

    private final int maxK;
    private final int[] foundAt; // foundAt[r] = questions whose gold document is at 1-based rank r
    private int questions;
    private double reciprocalRanks;

    /** @param maxK the deepest rank recorded; ranked lists are looked at up to this depth */
    public RetrievalMetrics(int maxK) {
        if (maxK < 1) {
            throw new IllegalArgumentException("maxK must be >= 1, was " + maxK);
        }
        this.maxK = maxK;
        this.foundAt = new int[maxK + 1];
    }

    /** 1-based rank of the gold id in the ranked ids, 0 when absent. */
    public static int rank(List<String> rankedIds, String goldId) {
        int index = rankedIds.indexOf(goldId);
        return index < 0 ? 0 : index + 1;
    }

    /** Records one question. */
    public void add(List<String> rankedIds, String goldId) {
        int rank = rank(rankedIds.subList(0, Math.min(rankedIds.size(), maxK)), goldId);
        questions++;
        if (rank > 0) {
            foundAt[rank]++;
            reciprocalRanks += 1.0 / rank;
        }
    }

    /** Records one question from hits, best first. */
    public void addHits(List<Hit> hits, String goldId) {
        add(hits.stream().map(Hit::id).toList(), goldId);
    }

    /** Share of questions whose gold document is in the top k (1 <= k <= maxK). */
    public double recallAt(int k) {
        if (k < 1 || k > maxK) {
            throw new IllegalArgumentException("k must be in [1, " + maxK + "], was " + k);
        }
        int found = 0;
        for (int r = 1; r <= k; r++) {
            found += foundAt[r];
        }
        return questions == 0 ? Double.NaN : (double) found / questions;
    }

    /** Mean reciprocal rank, a gold document beyond maxK counting 0. */
    public double meanReciprocalRank() {
        return questions == 0 ? Double.NaN : reciprocalRanks / questions;
    }

    public int questions() {
        return questions;
    }

    public int maxK() {
        return maxK;
    }
}
