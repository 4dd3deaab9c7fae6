package io.cmtstream.model;

import java.util.List;

/**
 * Picks the answer span of a late-interaction reading: over all memories read for one question, the span
 * {@code s <= e <= s + maxTokens - 1} with the highest {@code start[s] + end[e]}, among the memory's own tokens
 * ({@code [CLS]} and {@code [SEP]}, positions 0 and T-1, excluded). The spans of all memories compete as in
 * training (shared normalisation), each memory's spans raised by a prior: its match score times the model's
 * {@code reader.matchWeight} (training/late_reader.py {@code choose}). Its rank as such has no say.
 *
 * <p>Sums are float, as the trainer's are (training/late_reader.py {@code best_spans}); of equal scores the first
 * memory, then the earliest start, then the shortest span wins. Stateless and thread-safe.
 */
final class SpanChooser {

    private SpanChooser() {}

    /**
     * A chosen span.
     *
     * @param memory index of the memory it lies in
     * @param start its first token's position in that memory
     * @param end its last token's position, inclusive
     * @param score {@code start logit + end logit + prior}
     */
    record Span(int memory, int start, int end, float score) {}

    /**
     * @param starts per memory, the start logit of each of its positions (its length is the memory's T)
     * @param ends per memory, the end logits, as long as its starts
     * @param maxTokens the longest answer in tokens, at least 1
     * @param priors per memory, what is added to each of its spans' scores
     * @return the best span, or null when no memory has a token between its {@code [CLS]} and {@code [SEP]}
     */
    static Span best(List<float[]> starts, List<float[]> ends, int maxTokens, float[] priors) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be at least 1, was " + maxTokens);
        }
        if (starts.size() != ends.size()) {
            throw new IllegalArgumentException(starts.size() + " start vectors but " + ends.size() + " end vectors");
        }
        if (priors.length != starts.size()) {
            throw new IllegalArgumentException(starts.size() + " memories but " + priors.length + " priors");
        }
        Span best = null;
        for (int m = 0; m < starts.size(); m++) {
            float[] start = starts.get(m);
            float[] end = ends.get(m);
            if (start.length != end.length) {
                throw new IllegalArgumentException("memory " + m + ": " + start.length + " start logits but "
                        + end.length + " end logits");
            }
            int last = start.length - 2;
            for (int s = 1; s <= last; s++) {
                int to = Math.min(last, s + maxTokens - 1);
                for (int e = s; e <= to; e++) {
                    float score = start[s] + end[e] + priors[m];
                    if (best == null || score > best.score()) {
                        best = new Span(m, s, e, score);
                    }
                }
            }
        }
        return best;
    }
}
