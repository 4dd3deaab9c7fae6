package io.cmtstream.eval;

import io.cmtstream.memory.MatchKey;
import io.cmtstream.model.TermWeights;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KeyRetrieverTest {

    private final KeyRetriever retriever = new KeyRetriever(
            List.of("x", "y", "xy", "y2"),
            List.of(new float[] {1, 0}, new float[] {0, 1}, new float[] {0.6f, 0.8f}, new float[] {0, 1}));

    @Test
    void ranksByDotProductBestFirst() {
        List<Hit> hits = retriever.topK(new float[] {0.8f, 0.6f}, 3);
        assertEquals(List.of("xy", "x", "y"), hits.stream().map(Hit::id).toList());
        // The job's matching scores: keys as int8 rows, so within a few thousandths of the float dot product.
        assertEquals(0.96, hits.get(0).score(), 5e-3);
        assertEquals(0.8, hits.get(1).score(), 5e-3);
    }

    @Test
    void equalScoresKeepDocumentOrder() {
        assertEquals(List.of("y", "y2"), retriever.topK(new float[] {0, 1}, 3).subList(0, 2).stream()
                .map(Hit::id).toList());
    }

    @Test
    void kLargerThanThePoolReturnsEveryDocument() {
        assertEquals(4, retriever.topK(new float[] {1, 1}, 100).size());
    }

    @Test
    void keysOfAnotherLengthAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> retriever.topK(new float[] {1, 0, 0}, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new KeyRetriever(List.of("a", "b"), List.of(new float[2], new float[3])));
    }

    @Test
    void lexicalHalvesAddTheirDotProductToTheDenseScore() {
        KeyRetriever hybrid = new KeyRetriever(List.of("x", "xy"),
                List.of(new float[] {1, 0}, new float[] {0.6f, 0.8f}),
                List.of(TermWeights.NONE, new TermWeights(new int[] {4, 9}, new float[] {3f, 2f})));
        MatchKey query = new MatchKey(new float[] {1, 0}, new int[] {9}, new float[] {0.25f});

        List<Hit> hits = hybrid.topK(query, 2);

        assertEquals(List.of("xy", "x"), hits.stream().map(Hit::id).toList(), "0.6 + 0.25 * 2 beats 1.0");
        assertEquals(1.1, hits.get(0).score(), 5e-3);
        assertEquals(List.of("x", "xy"), hybrid.topK(query.dense(), 2).stream().map(Hit::id).toList(),
                "a dense query ignores the lexical halves");
    }
}
