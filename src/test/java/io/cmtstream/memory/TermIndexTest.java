package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TermIndexTest {

    /** A sparse vector of the reference model. */
    private record Sparse(int[] terms, float[] weights) {
    }

    private static Sparse randomSparse(Random random, int vocabulary, int maxTerms) {
        int count = random.nextInt(maxTerms + 1);
        TreeSet<Integer> set = new TreeSet<>();
        while (set.size() < Math.min(count, vocabulary)) {
            // Skewed towards small ids, so that some postings are long and removals move many entries.
            int term = random.nextBoolean() ? random.nextInt(Math.max(1, vocabulary / 10)) : random.nextInt(vocabulary);
            set.add(term);
        }
        int[] terms = set.stream().mapToInt(Integer::intValue).toArray();
        float[] weights = new float[terms.length];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = random.nextFloat() * 2f - 0.5f;
        }
        return new Sparse(terms, weights);
    }

    /** The dot product by looking every query term up in the row, in double. */
    private static double bruteForce(Sparse query, Sparse row) {
        double sum = 0;
        for (int q = 0; q < query.terms().length; q++) {
            for (int i = 0; i < row.terms().length; i++) {
                if (row.terms()[i] == query.terms()[q]) {
                    sum += (double) query.weights()[q] * row.weights()[i];
                }
            }
        }
        return sum;
    }

    private static long entries(List<Sparse> model) {
        return model.stream().mapToLong(s -> s.terms().length).sum();
    }

    private static void assertMatchesModel(TermIndex index, List<Sparse> model, Random random, int vocabulary,
                                           String when) {
        assertEquals(model.size(), index.rows(), when);
        assertEquals(entries(model), index.entries(), when);
        for (int k = 0; k < 5; k++) {
            // A query may reach past the vocabulary: those terms are in no row.
            Sparse query = randomSparse(random, vocabulary + 50, 12);
            float[] scores = new float[model.size() + random.nextInt(3)];
            index.addScores(query.terms(), query.weights(), scores);
            for (int row = 0; row < model.size(); row++) {
                assertEquals(bruteForce(query, model.get(row)), scores[row], 1e-5, when + ", row " + row);
            }
            for (int row = model.size(); row < scores.length; row++) {
                assertEquals(0f, scores[row], when + ", slack " + row);
            }
        }
    }

    @Test
    void randomPutsReplacementsAndRemovesScoreLikeBruteForceOverAReferenceModel() {
        Random random = new Random(20240611L);
        int vocabulary = 300;
        TermIndex index = new TermIndex();
        List<Sparse> model = new ArrayList<>();
        for (int op = 0; op < 20_000; op++) {
            int choice = random.nextInt(10);
            // Growth outweighs removal on average, with phases that drain the index towards empty.
            boolean draining = (op / 2_000) % 3 == 2;
            if (!model.isEmpty() && (draining ? choice < 6 : choice < 3)) {
                int row = random.nextInt(model.size());
                index.remove(row);
                int last = model.size() - 1;
                model.set(row, model.get(last));
                model.remove(last);
            } else if (!model.isEmpty() && choice < 6) {
                int row = random.nextInt(model.size());
                Sparse vector = randomSparse(random, vocabulary, 20);
                index.put(row, vector.terms(), vector.weights());
                model.set(row, vector);
            } else {
                Sparse vector = randomSparse(random, vocabulary, 20);
                index.put(model.size(), vector.terms(), vector.weights());
                model.add(vector);
            }
            if (op % 37 == 0) {
                assertMatchesModel(index, model, random, vocabulary, "after op " + op);
            }
        }
        assertMatchesModel(index, model, random, vocabulary, "at the end");
        while (!model.isEmpty()) {
            index.remove(0);
            int last = model.size() - 1;
            model.set(0, model.get(last));
            model.remove(last);
        }
        assertMatchesModel(index, model, random, vocabulary, "after removing every row");
        assertEquals(0, index.entries());
    }

    @Test
    void putDoesNotKeepTheCallersArrays() {
        TermIndex index = new TermIndex();
        int[] terms = {1, 2};
        float[] weights = {1f, 1f};
        index.put(0, terms, weights);
        index.put(1, new int[] {2}, new float[] {1f});
        terms[0] = 7;
        terms[1] = 8;
        weights[0] = 100f;
        // Removing row 1 moves entries in the posting of term 2; row 0's back-pointer must still be found.
        index.remove(1);
        float[] scores = new float[1];
        index.addScores(new int[] {1, 2}, new float[] {1f, 1f}, scores);
        assertEquals(2f, scores[0]);
    }

    @Test
    void dotAgreesWithBruteForce() {
        Random random = new Random(5);
        for (int k = 0; k < 2_000; k++) {
            Sparse query = randomSparse(random, 400, 30);
            Sparse row = randomSparse(random, 400, 30);
            assertEquals(bruteForce(query, row),
                    TermIndex.dot(query.terms(), query.weights(), row.terms(), row.weights()), 1e-5);
        }
        assertEquals(0f, TermIndex.dot(new int[0], new float[0], new int[] {1}, new float[] {1f}));
        assertEquals(0f, TermIndex.dot(null, null, new int[] {1}, new float[] {1f}));
        assertEquals(0f, TermIndex.dot(new int[] {1}, new float[] {1f}, null, null));
    }

    @Test
    void addScoresOnZeroedScoresEqualsDotExactly() {
        Random random = new Random(13);
        TermIndex index = new TermIndex();
        List<Sparse> rows = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Sparse row = randomSparse(random, 100, 25);
            index.put(i, row.terms(), row.weights());
            rows.add(row);
        }
        for (int k = 0; k < 50; k++) {
            Sparse query = randomSparse(random, 120, 15);
            float[] scores = new float[rows.size()];
            index.addScores(query.terms(), query.weights(), scores);
            for (int i = 0; i < rows.size(); i++) {
                Sparse row = rows.get(i);
                assertEquals(TermIndex.dot(query.terms(), query.weights(), row.terms(), row.weights()), scores[i],
                        0f, "row " + i);
            }
        }
    }

    @Test
    void putRejectsWeightsOfAnotherLength() {
        TermIndex index = new TermIndex();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> index.put(0, new int[] {1, 2}, new float[] {1f}));
        assertTrue(e.getMessage().contains("2 terms but 1 weights"), e.getMessage());
        assertEquals(0, index.rows());
    }

    @Test
    void putRejectsNegativeTerms() {
        TermIndex index = new TermIndex();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> index.put(0, new int[] {-1, 2}, new float[] {1f, 1f}));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
    }

    @Test
    void putRejectsTermsThatAreNotStrictlyIncreasing() {
        TermIndex index = new TermIndex();
        assertThrows(IllegalArgumentException.class, () -> index.put(0, new int[] {3, 2}, new float[] {1f, 1f}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> index.put(0, new int[] {2, 2}, new float[] {1f, 1f}));
        assertTrue(e.getMessage().contains("strictly increasing"), e.getMessage());
    }

    @Test
    void putRejectsRowsPastTheEndAndNegativeRows() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {1}, new float[] {1f});
        assertThrows(IllegalArgumentException.class, () -> index.put(2, new int[] {1}, new float[] {1f}));
        assertThrows(IllegalArgumentException.class, () -> index.put(-1, new int[] {1}, new float[] {1f}));
        assertEquals(1, index.rows());
    }

    @Test
    void aRejectedReplacementLeavesTheRowAsItWas() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {1, 4}, new float[] {1f, 2f});
        assertThrows(IllegalArgumentException.class, () -> index.put(0, new int[] {5, 3}, new float[] {1f, 1f}));
        float[] scores = new float[1];
        index.addScores(new int[] {1, 4}, new float[] {1f, 1f}, scores);
        assertEquals(3f, scores[0]);
        assertEquals(2, index.entries());
    }

    @Test
    void removeRejectsRowsOutsideTheIndex() {
        TermIndex index = new TermIndex();
        assertThrows(IllegalArgumentException.class, () -> index.remove(0));
        index.put(0, new int[] {1}, new float[] {1f});
        assertThrows(IllegalArgumentException.class, () -> index.remove(1));
        assertThrows(IllegalArgumentException.class, () -> index.remove(-1));
    }

    @Test
    void nullTermsAndWeightsMakeARowThatMatchesNothing() {
        TermIndex index = new TermIndex();
        index.put(0, null, null);
        index.put(1, new int[] {3}, new float[] {2f});
        index.put(2, null, null);
        assertEquals(3, index.rows());
        assertEquals(1, index.entries());
        float[] scores = new float[3];
        index.addScores(new int[] {0, 3}, new float[] {1f, 1f}, scores);
        assertEquals(0f, scores[0]);
        assertEquals(2f, scores[1]);
        assertEquals(0f, scores[2]);
        // An empty row can be removed and replaced like any other.
        index.remove(0);
        index.put(0, new int[] {0}, new float[] {5f});
        scores = new float[2];
        index.addScores(new int[] {0, 3}, new float[] {1f, 1f}, scores);
        assertEquals(5f, scores[0]);
        assertEquals(2f, scores[1]);
    }

    @Test
    void aQueryTermBeyondEveryIndexedTermAddsNothing() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {2, 9}, new float[] {1f, 1f});
        float[] scores = new float[1];
        index.addScores(new int[] {9, 10, 1_000_000, Integer.MAX_VALUE}, new float[] {1f, 7f, 7f, 7f}, scores);
        assertEquals(1f, scores[0]);
        assertEquals(0f, TermIndex.dot(new int[] {Integer.MAX_VALUE}, new float[] {1f},
                new int[] {2, 9}, new float[] {1f, 1f}));
    }

    @Test
    void largeTermIdsAreIndexedWithoutAVocabularySize() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {5, 250_000}, new float[] {1f, 3f});
        float[] scores = new float[1];
        index.addScores(new int[] {250_000}, new float[] {2f}, scores);
        assertEquals(6f, scores[0]);
    }

    @Test
    void scoresAreAddedToTheExistingValues() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {1}, new float[] {2f});
        index.put(1, new int[] {2}, new float[] {3f});
        float[] scores = {10f, 20f, 30f};
        index.addScores(new int[] {1, 2}, new float[] {1f, 1f}, scores);
        assertEquals(12f, scores[0]);
        assertEquals(23f, scores[1]);
        assertEquals(30f, scores[2]);
    }

    @Test
    void removeMovesTheLastRowIntoTheRemovedRowsNumber() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {1}, new float[] {1f});
        index.put(1, new int[] {1, 2}, new float[] {2f, 1f});
        index.put(2, new int[] {1, 3}, new float[] {3f, 1f});
        index.remove(0);
        assertEquals(2, index.rows());
        float[] scores = new float[2];
        index.addScores(new int[] {1, 3}, new float[] {1f, 10f}, scores);
        assertEquals(13f, scores[0]); // the former row 2
        assertEquals(2f, scores[1]);
        assertEquals(4, index.entries());
    }

    @Test
    void replacingARowDropsItsOldTerms() {
        TermIndex index = new TermIndex();
        index.put(0, new int[] {1, 2}, new float[] {1f, 1f});
        index.put(1, new int[] {2}, new float[] {4f});
        index.put(0, new int[] {2, 3}, new float[] {5f, 1f});
        float[] scores = new float[2];
        index.addScores(new int[] {1, 2}, new float[] {100f, 1f}, scores);
        assertEquals(5f, scores[0]);
        assertEquals(4f, scores[1]);
        assertEquals(3, index.entries());
    }
}
