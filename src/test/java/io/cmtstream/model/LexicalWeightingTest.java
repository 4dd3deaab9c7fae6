package io.cmtstream.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LexicalWeightingTest {
    private static final int CLS = 101;
    private static final int SEP = 102;

    @TempDir
    Path dir;

    /** idf 2 for ids 7 and 9, 0.5 for 8, 0 (never matched) for everything else, specials included. */
    private static float[] idf() {
        float[] idf = new float[200];
        idf[7] = 2f;
        idf[8] = 0.5f;
        idf[9] = 2f;
        return idf;
    }

    private final LexicalWeighting weighting = new LexicalWeighting(idf(), 0.9, 0.4, 4.0, 0.02f);

    @Test
    void documentWeightsAreBm25OfTheTokensBetweenTheSpecials() {
        TermWeights w = weighting.document(new long[] {CLS, 9, 7, 7, 50, 8, 7, SEP});
        assertArrayEquals(new int[] {7, 8, 9}, w.terms(), "sorted, distinct, zero-idf ids left out");
        double norm = 0.9 * (1 - 0.4 + 0.4 * 6 / 4.0); // six tokens between [CLS] and [SEP]
        assertEquals(2 * 3 * 1.9 / (3 + norm), w.weights()[0], 1e-6, "id 7: tf 3");
        assertEquals(0.5 * 1 * 1.9 / (1 + norm), w.weights()[1], 1e-6, "id 8: tf 1");
        assertEquals(2 * 1 * 1.9 / (1 + norm), w.weights()[2], 1e-6, "id 9: tf 1");
    }

    @Test
    void aQuestionWeighsEachDistinctMatchedTermByTheQueryWeight() {
        TermWeights w = weighting.query(new long[] {CLS, 9, 9, 7, 50, SEP});
        assertArrayEquals(new int[] {7, 9}, w.terms());
        assertArrayEquals(new float[] {0.02f, 0.02f}, w.weights());
    }

    @Test
    void textsWithoutMatchedTermsAndIdsOutsideTheTableGetNoTerms() {
        assertEquals(TermWeights.NONE, weighting.document(new long[] {CLS, 50, 5000, SEP}));
        assertEquals(0, weighting.query(new long[] {CLS, SEP}).size());
    }

    private Path table(float... values) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bytes.putFloat(v);
        }
        Path file = dir.resolve("idf.f32");
        Files.write(file, bytes.array());
        return file;
    }

    @Test
    void loadsALittleEndianTableAndChecksItsLengthAndValues() throws IOException {
        ModelConfig.Lexical lexical = new ModelConfig.Lexical(table(0f, 3f, 0f), 0.9, 0.4, 1.0, 1f);
        assertArrayEquals(new int[] {1}, LexicalWeighting.load(lexical, 3).query(new long[] {0, 1, 2}).terms());
        assertArrayEquals(new int[] {1}, LexicalWeighting.load(lexical, 0).query(new long[] {1}).terms(),
                "vocab 0: any whole number of floats");

        String wrongLength = assertThrows(ModelLoadException.class, () -> LexicalWeighting.load(lexical, 4))
                .getMessage();
        assertTrue(wrongLength.contains("holds 12 bytes, expected 4"), wrongLength);

        ModelConfig.Lexical negative = new ModelConfig.Lexical(table(0f, -1f), 0.9, 0.4, 1.0, 1f);
        String bad = assertThrows(ModelLoadException.class, () -> LexicalWeighting.load(negative, 2)).getMessage();
        assertTrue(bad.contains("id 1 has idf -1.0"), bad);
    }
}
