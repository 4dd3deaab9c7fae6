package io.cmtstream.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Turns a text's token ids into the sparse half of its key (training/lexical.py computes the same): a document
 * gets BM25 weights {@code idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength))}, a question
 * the query weight for each distinct term. Terms whose idf is 0 in the model's table (special tokens, punctuation,
 * the most common words) are left out, so they cost the memory bank nothing.
 *
 * <p>The statistics are the model's, fixed at training time: a shard cannot know the corpus it will see, and fixed
 * statistics make a memory's weights independent of which shard holds it and of when it arrived.
 *
 * <p>Immutable and thread-safe.
 */
public final class LexicalWeighting {
    private final float[] idf;
    private final double k1;
    private final double b;
    private final double averageLength;
    private final float queryWeight;

    LexicalWeighting(float[] idf, double k1, double b, double averageLength, float queryWeight) {
        this.idf = idf;
        this.k1 = k1;
        this.b = b;
        this.averageLength = averageLength;
        this.queryWeight = queryWeight;
    }

    /**
     * Loads the idf table model.json's {@code lexical} section names: little-endian float32, one per vocabulary id.
     *
     * @param vocab the ids the table must cover, or 0 when the model does not say (any whole number of floats)
     * @throws ModelLoadException if the file cannot be read or does not hold {@code vocab} finite non-negative floats
     */
    public static LexicalWeighting load(ModelConfig.Lexical lexical, int vocab) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(lexical.idf());
        } catch (IOException e) {
            throw new ModelLoadException("cannot read the idf table " + lexical.idf() + ": " + e, e);
        }
        if (vocab > 0 ? bytes.length != vocab * Float.BYTES : bytes.length == 0 || bytes.length % Float.BYTES != 0) {
            throw new ModelLoadException("idf table " + lexical.idf() + " holds " + bytes.length + " bytes, expected "
                    + (vocab > 0 ? vocab : "a whole number of") + " little-endian float32 (one per vocabulary id)");
        }
        float[] idf = new float[bytes.length / Float.BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(idf);
        for (int t = 0; t < idf.length; t++) {
            if (!Float.isFinite(idf[t]) || idf[t] < 0) {
                throw new ModelLoadException("idf table " + lexical.idf() + ": id " + t + " has idf " + idf[t]
                        + ", must be finite and >= 0");
            }
        }
        return new LexicalWeighting(idf, lexical.k1(), lexical.b(), lexical.averageLength(), lexical.queryWeight());
    }

    /**
     * BM25 weights of a document's token ids as the compressor read them: {@code [CLS] tokens [SEP]}, truncated,
     * unpadded. The length BM25 normalises by is the tokens between the two specials.
     */
    public TermWeights document(long[] ids) {
        int[] terms = matchedTerms(ids);
        if (terms.length == 0) {
            return TermWeights.NONE;
        }
        Arrays.sort(terms);
        int length = Math.max(0, ids.length - 2);
        double norm = k1 * (1 - b + b * length / averageLength);
        int distinct = 0;
        int[] out = new int[terms.length];
        float[] weights = new float[terms.length];
        for (int i = 0; i < terms.length; ) {
            int j = i;
            while (j < terms.length && terms[j] == terms[i]) {
                j++;
            }
            int tf = j - i;
            out[distinct] = terms[i];
            weights[distinct] = (float) (idf[terms[i]] * tf * (k1 + 1) / (tf + norm));
            distinct++;
            i = j;
        }
        return new TermWeights(Arrays.copyOf(out, distinct), Arrays.copyOf(weights, distinct));
    }

    /** The query weight for each distinct matched term of a question. */
    public TermWeights query(long[] ids) {
        int[] terms = Arrays.stream(matchedTerms(ids)).sorted().distinct().toArray();
        float[] weights = new float[terms.length];
        Arrays.fill(weights, queryWeight);
        return new TermWeights(terms, weights);
    }

    /** Whether the lexical half weighs this id at all (idf above 0): specials, punctuation, common words do not. */
    public boolean weighs(int id) {
        return id >= 0 && id < idf.length && idf[id] > 0f;
    }

    private int[] matchedTerms(long[] ids) {
        int[] terms = new int[ids.length];
        int n = 0;
        for (long id : ids) {
            if (id >= 0 && id < idf.length && idf[(int) id] > 0f) {
                terms[n++] = (int) id;
            }
        }
        return Arrays.copyOf(terms, n);
    }
}
