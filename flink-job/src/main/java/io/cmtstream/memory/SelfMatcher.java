package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Self-matching: scores a question's key against every memory key of a shard (both made by the same compressor,
 * L2-normalised, so the dense dot product is the cosine), adds the lexical half's dot product where the model has
 * one, and keeps the k best.
 */
public final class SelfMatcher {
    private SelfMatcher() {}

    /** Matching with no time limit: every memory is a candidate. */
    public static final long ANY_TIME = Long.MAX_VALUE;

    /** The k best matches of each query, as {@link #topK(KeyMatrix, MatchKey, int)}, in one pass over the keys. */
    public static List<List<Match>> topK(KeyMatrix keys, MatchKey[] queries, int[] ks) {
        return topK(keys, queries, ks, null);
    }

    /**
     * As {@link #topK(KeyMatrix, MatchKey[], int[])}, query {@code q} only among memories published at or before
     * {@code asOf[q]} (null: all).
     */
    public static List<List<Match>> topK(KeyMatrix keys, MatchKey[] queries, int[] ks, long[] asOf) {
        int n = keys.size();
        List<List<Match>> out = new ArrayList<>(queries.length);
        if (n == 0) {
            for (int q = 0; q < queries.length; q++) {
                out.add(List.of());
            }
            return out;
        }
        float[][] dense = new float[queries.length][];
        for (int q = 0; q < queries.length; q++) {
            dense[q] = checked(keys, queries[q]);
        }
        float[][] scores = new float[queries.length][n];
        keys.scoreAll(dense, scores);
        for (int q = 0; q < queries.length; q++) {
            out.add(best(keys, queries[q], scores[q], ks[q], asOf == null ? ANY_TIME : asOf[q]));
        }
        return out;
    }

    /** Dense-only queries: {@link #topK(KeyMatrix, MatchKey[], int[])}. */
    public static List<List<Match>> topK(KeyMatrix keys, float[][] queries, int[] ks) {
        MatchKey[] keyed = new MatchKey[queries.length];
        for (int q = 0; q < queries.length; q++) {
            keyed[q] = MatchKey.dense(queries[q]);
        }
        return topK(keys, keyed, ks);
    }

    /**
     * A scored document id.
     *
     * @param score the match score: dense plus lexical, what ranks memories
     * @param keyScore the dense keys' cosine alone
     */
    public record Match(String docId, float score, float keyScore) {}

    /** The k best matches, best first; ties break on doc id so results are reproducible across restores. */
    public static List<Match> topK(KeyMatrix keys, MatchKey query, int k) {
        return topK(keys, query, k, ANY_TIME);
    }

    /** The k best among memories published at or before {@code asOf} (epoch millis; {@link #ANY_TIME}: all). */
    public static List<Match> topK(KeyMatrix keys, MatchKey query, int k, long asOf) {
        int n = keys.size();
        if (n == 0 || k <= 0) {
            return List.of();
        }
        float[] scores = new float[n];
        keys.scoreAll(checked(keys, query), scores);
        return best(keys, query, scores, k, asOf);
    }

    /** A dense-only query: {@link #topK(KeyMatrix, MatchKey, int)}. */
    public static List<Match> topK(KeyMatrix keys, float[] query, int k) {
        return topK(keys, MatchKey.dense(query), k);
    }

    private static float[] checked(KeyMatrix keys, MatchKey query) {
        if (query.dense().length != keys.dim()) {
            throw new IllegalArgumentException("query key has " + query.dense().length + " dims, bank has "
                    + keys.dim());
        }
        return query.dense();
    }

    /** The k best of {@code dense} (the rows' dense scores) plus the query's lexical scores. */
    private static List<Match> best(KeyMatrix keys, MatchKey query, float[] dense, int k, long asOf) {
        if (k <= 0) {
            return List.of();
        }
        float[] scores = dense;
        if (query.hasTerms()) {
            scores = dense.clone();
            keys.addLexicalScores(query, scores);
        }
        PriorityQueue<Match> best = new PriorityQueue<>(k + 1, SelfMatcher::worseFirst);
        for (int r = 0; r < keys.size(); r++) {
            if (asOf != ANY_TIME && keys.publishedAt(r) > asOf) {
                continue;
            }
            if (best.size() < k || scores[r] > best.peek().score()) {
                best.add(new Match(keys.idAt(r), scores[r], dense[r]));
                if (best.size() > k) {
                    best.poll();
                }
            }
        }
        List<Match> out = new ArrayList<>(best);
        out.sort(Collections.reverseOrder(SelfMatcher::worseFirst));
        return out;
    }

    /** Dense score of a query key against one memory key: the key matrix's own kernel, so every path scores alike. */
    public static float dot(float[] query, float[] key) {
        if (query.length != key.length) {
            throw new IllegalArgumentException("query key has " + query.length + " dims, memory has " + key.length);
        }
        return KeyMatrix.score(query, key);
    }

    /** Lexical score of a query against one memory's lexical half (null for none): what its row would add. */
    public static float lexicalScore(MatchKey query, int[] termIds, float[] termWeights) {
        return TermIndex.dot(query.terms(), query.weights(), termIds, termWeights);
    }

    static int worseFirst(Match a, Match b) {
        int c = Float.compare(a.score(), b.score());
        return c != 0 ? c : b.docId().compareTo(a.docId());
    }
}
