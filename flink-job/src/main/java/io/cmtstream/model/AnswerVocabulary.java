package io.cmtstream.model;

import java.util.Arrays;
import java.util.List;

/**
 * Which token ids an answer may use when model.json's {@code lexical.answerVocabulary} is {@code memory-terms}:
 * the terms of the memories being read plus every id the lexical half never weighs (special tokens, punctuation,
 * the commonest words). The reader garbles word pieces of unseen text that its memory tokens keep only
 * approximately; the terms the memory bank stores with each memory pin them down (training/lexical.py chose this
 * on validation). Closed book, and a question with a memory whose terms are unknown (state written before the
 * lexical half), stay unrestricted.
 *
 * <p>Immutable and thread-safe.
 */
public final class AnswerVocabulary {
    /** Added to the logit of an id outside the vocabulary (training/common.py NEG_LOGIT). */
    static final float EXCLUDED = -1.0e9f;

    private final boolean[] always;

    AnswerVocabulary(boolean[] always) {
        this.always = always;
    }

    /** The vocabulary of a model with this lexical half: the ids it never weighs are always allowed. */
    public static AnswerVocabulary of(LexicalWeighting lexical, int vocab) {
        boolean[] always = new boolean[vocab];
        for (int id = 0; id < vocab; id++) {
            always[id] = !lexical.weighs(id);
        }
        return new AnswerVocabulary(always);
    }

    /**
     * The ids one request's answer may use, or null when it is unrestricted.
     *
     * @throws IllegalArgumentException if a term id is outside the vocabulary
     */
    public boolean[] allowed(AnswerRequest request) {
        List<float[]> memories = request.memories();
        List<int[]> terms = request.memoryTerms();
        if (memories == null || memories.isEmpty() || terms == null) {
            return null;
        }
        // not terms.contains(null): List.of(...) answers that with a NullPointerException
        for (int[] memory : terms) {
            if (memory == null) {
                return null;
            }
        }
        boolean[] allowed = always.clone();
        for (int[] memory : terms) {
            for (int id : memory) {
                if (id < 0 || id >= allowed.length) {
                    throw new IllegalArgumentException("memory term id " + id + " is outside the vocabulary of "
                            + allowed.length);
                }
                allowed[id] = true;
            }
        }
        return allowed;
    }

    /**
     * Additive logit masks, row-major {@code [requests, vocab]}: 0 where an id is allowed, {@link #EXCLUDED} where
     * not; an unrestricted request's row is all 0. Null when no request is restricted.
     */
    public float[] masks(List<AnswerRequest> requests) {
        int vocab = always.length;
        float[] masks = null;
        for (int r = 0; r < requests.size(); r++) {
            boolean[] allowed = allowed(requests.get(r));
            if (allowed == null) {
                continue;
            }
            if (masks == null) {
                masks = new float[requests.size() * vocab];
            }
            for (int id = 0; id < vocab; id++) {
                if (!allowed[id]) {
                    masks[r * vocab + id] = EXCLUDED;
                }
            }
        }
        return masks;
    }

    /**
     * The ids each request's answer may use, ascending, as rows of one width (a short row repeats its first id,
     * which changes no arg-max): what the reader's {@code forward_among} / {@code step_among} score instead of the
     * whole vocabulary. Null when some request is unrestricted, which needs every id scored.
     */
    public long[][] candidates(List<AnswerRequest> requests) {
        long[][] rows = new long[requests.size()][];
        int width = 0;
        for (int r = 0; r < rows.length; r++) {
            boolean[] allowed = allowed(requests.get(r));
            if (allowed == null) {
                return null;
            }
            int n = 0;
            long[] ids = new long[allowed.length];
            for (int id = 0; id < allowed.length; id++) {
                if (allowed[id]) {
                    ids[n++] = id;
                }
            }
            rows[r] = Arrays.copyOf(ids, n);
            width = Math.max(width, n);
        }
        for (int r = 0; r < rows.length; r++) {
            int n = rows[r].length;
            rows[r] = Arrays.copyOf(rows[r], width);
            Arrays.fill(rows[r], n, width, rows[r][0]);
        }
        return rows;
    }

    @Override
    public String toString() {
        int n = 0;
        for (boolean a : always) {
            n += a ? 1 : 0;
        }
        return "the memories' terms + " + n + " ids always allowed";
    }
}
