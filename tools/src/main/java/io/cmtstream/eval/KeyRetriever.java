package io.cmtstream.eval;

import io.cmtstream.memory.KeyMatrix;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.memory.SelfMatcher;
import io.cmtstream.model.TermWeights;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Exhaustive retrieval by key: ranks documents by the memory bank's own match score, the dot product of the dense
 * keys plus, where the keys have one, the dot product of their lexical halves.
 *
 * <p>With keys from the CMT compressor this is self-matching (keys are L2-normalised, so the dense dot product is the
 * cosine); with keys from the untuned backbone it is the plain [CLS] baseline. Exhaustive on purpose: the evaluation
 * must measure the keys, not an approximate index.
 *
 * <p>Invariant: every dense key has the same length. The keys are encoded once, as the memory bank encodes them (a
 * {@link KeyMatrix} whose row i is key i); immutable after construction and thread-safe (scoring only reads).
 */
public final class KeyRetriever {

    private final List<String> ids;
    private final KeyMatrix keys = new KeyMatrix();
    private final int dim;

    /** Dense keys only. {@code ids} are parallel to {@code keys}. */
    public KeyRetriever(List<String> ids, List<float[]> keys) {
        this(ids, keys, null);
    }

    /** @param terms the keys' lexical halves, parallel to {@code keys}; null for dense keys only */
    public KeyRetriever(List<String> ids, List<float[]> keys, List<TermWeights> terms) {
        if (ids.size() != keys.size() || (terms != null && terms.size() != keys.size())) {
            throw new IllegalArgumentException(ids.size() + " ids but " + keys.size() + " keys"
                    + (terms == null ? "" : " and " + terms.size() + " term vectors"));
        }
        this.ids = List.copyOf(ids);
        this.dim = keys.isEmpty() ? 0 : keys.get(0).length;
        for (int i = 0; i < keys.size(); i++) {
            if (keys.get(i).length != dim) {
                throw new IllegalArgumentException(
                        "key of " + ids.get(i) + " has length " + keys.get(i).length + ", expected " + dim);
            }
            // Rows named by position: ids may repeat, and row order is document order.
            TermWeights t = terms == null ? TermWeights.NONE : terms.get(i);
            this.keys.put(Integer.toString(i), keys.get(i), t.terms(), t.weights());
        }
    }

    /** The k documents whose keys score highest against a dense query key, best first. */
    public List<Hit> topK(float[] queryKey, int k) {
        return topK(MatchKey.dense(queryKey), k);
    }

    /** The k documents whose keys score highest against the query, best first (ties: earlier document first). */
    public List<Hit> topK(MatchKey query, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, was " + k);
        }
        if (keys.size() > 0 && query.dense().length != dim) {
            throw new IllegalArgumentException("query key has length " + query.dense().length + ", expected " + dim);
        }
        float[] scores = new float[keys.size()];
        keys.scoreAll(query, scores);
        // Min-heap of the best k so far; on equal scores the later document is the worse one.
        PriorityQueue<Integer> heap = new PriorityQueue<>(Math.min(k, keys.size()) + 1, (a, b) -> {
            int byScore = Float.compare(scores[a], scores[b]);
            return byScore != 0 ? byScore : Integer.compare(b, a);
        });
        for (int i = 0; i < keys.size(); i++) {
            heap.add(i);
            if (heap.size() > k) {
                heap.poll();
            }
        }
        List<Hit> hits = new ArrayList<>(heap.size());
        while (!heap.isEmpty()) {
            int i = heap.poll();
            hits.add(new Hit(ids.get(i), scores[i]));
        }
        Collections.reverse(hits);
        return hits;
    }

    /** The job's own dense matching score (int8 key rows, as in the memory bank), so offline figures equal the job's. */
    public static double dot(float[] a, float[] b) {
        return SelfMatcher.dot(a, b);
    }

    public int size() {
        return ids.size();
    }
}
