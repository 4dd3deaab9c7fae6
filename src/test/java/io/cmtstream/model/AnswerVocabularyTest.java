package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AnswerVocabularyTest {
    private static final float[] TOKENS = {1f, 2f};

    /** Ten ids; 0 (a special) and 1 (punctuation) have idf 0 and are always allowed. */
    private final AnswerVocabulary vocabulary = AnswerVocabulary.of(
            new LexicalWeighting(new float[] {0f, 0f, 1f, 1f, 2f, 2f, 3f, 3f, 4f, 4f}, 0.9, 0.4, 10, 0.02f), 10);

    private static AnswerRequest request(int[]... terms) {
        List<float[]> memories = Arrays.stream(terms).map(t -> TOKENS).toList();
        return new AnswerRequest(TOKENS, memories, new float[terms.length], Arrays.asList(terms));
    }

    private static boolean[] ids(int vocab, int... allowed) {
        boolean[] out = new boolean[vocab];
        for (int id : allowed) {
            out[id] = true;
        }
        return out;
    }

    @Test
    void anAnswerMayUseItsMemoriesTermsAndTheIdsTheLexicalHalfNeverWeighs() {
        assertArrayEquals(ids(10, 0, 1, 4, 7), vocabulary.allowed(request(new int[] {4, 7})));
        assertArrayEquals(ids(10, 0, 1, 2, 4, 7), vocabulary.allowed(request(new int[] {4, 7}, new int[] {2})),
                "k = 2: the union of both memories' terms");
        assertArrayEquals(ids(10, 0, 1), vocabulary.allowed(request(new int[0])),
                "a memory whose text had only common words");
    }

    @Test
    void closedBookAndMemoriesWithUnknownTermsAreNotRestricted() {
        assertNull(vocabulary.allowed(new AnswerRequest(TOKENS, List.of(), new float[0], List.of())), "closed book");
        assertNull(vocabulary.allowed(new AnswerRequest(TOKENS, List.of(TOKENS), new float[1])),
                "a request that does not carry terms");
        assertNull(vocabulary.allowed(request(new int[] {4}, null)), "a memory restored from before the lexical half");
        assertArrayEquals(ids(10, 0, 1, 4), vocabulary.allowed(new AnswerRequest(TOKENS, List.of(TOKENS), new float[1],
                List.of(new int[] {4}))), "an immutable list of terms");
    }

    @Test
    void masksAddAnExclusionToEveryOtherIdOfARestrictedRow() {
        float[] masks = vocabulary.masks(List.of(request(new int[] {4}),
                new AnswerRequest(TOKENS, List.of(), new float[0])));
        assertEquals(20, masks.length);
        for (int id = 0; id < 10; id++) {
            assertEquals(id == 0 || id == 1 || id == 4 ? 0f : AnswerVocabulary.EXCLUDED, masks[id], "row 0, id " + id);
            assertEquals(0f, masks[10 + id], "row 1 (closed book) is free, id " + id);
        }
        assertNull(vocabulary.masks(List.of(new AnswerRequest(TOKENS, List.of(), new float[0]))),
                "no restricted row: no masks at all");
    }

    @Test
    void candidatesAreEachRowsAllowedIdsPaddedWithItsFirstId() {
        long[][] rows = vocabulary.candidates(List.of(request(new int[] {4, 7}), request(new int[] {2}, new int[] {9, 5})));
        assertArrayEquals(new long[] {0, 1, 4, 7, 0}, rows[0], "padded to the widest row with its own first id");
        assertArrayEquals(new long[] {0, 1, 2, 5, 9}, rows[1]);
        assertNull(vocabulary.candidates(List.of(request(new int[] {4}),
                new AnswerRequest(TOKENS, List.of(), new float[0]))), "a closed-book row needs every id scored");
    }

    @Test
    void aTermOutsideTheVocabularyIsABadRequest() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> vocabulary.allowed(request(new int[] {10})));
        assertTrue(e.getMessage().contains("memory term id 10 is outside the vocabulary of 10"), e.getMessage());
    }
}
