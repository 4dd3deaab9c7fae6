package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Self-matching: scores a question's key against every memory key of a shard (both made by the same compressor,
 * L2-normalised, so the dot product is the cosine) and keeps the k best.
 */
public final class SelfMatcher {
    private SelfMatcher() {}

    /** The k best matches of each query, as {@link #topK(KeyMatrix, float[], int)}, in one pass over the keys. */
    public static List<List<Match>> topK(KeyMatrix keys, float[][] queries, int[] ks) {
        int n = keys.size();
        List<List<Match>> out = new ArrayList<>(queries.length);
        if (n == 0) {
            for (int q = 0; q < queries.length; q++) {
                out.add(List.of());
            }
            return out;
        }
        for (float[] query : queries) {
            if (query.length != keys.dim()) {
                throw new IllegalArgumentException("query key has " + query.length + " dims, bank has " + keys.dim());
            }
        }
        float[][] scores = new float[queries.length][n];
        keys.scoreAll(queries, scores);
        for (int q = 0; q < queries.length; q++) {
            out.add(best(keys, scores[q], ks[q]));
        }
        return out;
    }

    /** A scored document id. */
    public record Match(String docId, float score) {}

    /** The k best matches, best first; ties break on doc id so results are reproducible across restores. */
    public static List<Match> topK(KeyMatrix keys, float[] query, int k) {
        int n = keys.size();
        if (n == 0 || k <= 0) {
            return List.of();
        }
        if (query.length != keys.dim()) {
            throw new IllegalArgumentException("query key has " + query.length + " dims, bank has " + keys.dim());
        }
        float[] scores = new float[n];
        keys.scoreAll(query, scores);
        return best(keys, scores, k);
    }

    private static List<Match> best(KeyMatrix keys, float[] scores, int k) {
        if (k <= 0) {
            return List.of();
        }
        PriorityQueue<Match> best = new PriorityQueue<>(k + 1, SelfMatcher::worseFirst);
        for (int r = 0; r < keys.size(); r++) {
            if (best.size() < k || scores[r] > best.peek().score()) {
                best.add(new Match(keys.idAt(r), scores[r]));
                if (best.size() > k) {
                    best.poll();
                }
            }
        }
        List<Match> out = new ArrayList<>(best);
        out.sort(Collections.reverseOrder(SelfMatcher::worseFirst));
        return out;
    }

    /** Score of a query key against one memory key: the key matrix's own kernel, so every path scores alike. */
    public static float dot(float[] query, float[] key) {
        if (query.length != key.length) {
            throw new IllegalArgumentException("query key has " + query.length + " dims, memory has " + key.length);
        }
        return KeyMatrix.score(query, key);
    }

    static int worseFirst(Match a, Match b) {
        int c = Float.compare(a.score(), b.score());
        return c != 0 ? c : b.docId().compareTo(a.docId());
    }
}
