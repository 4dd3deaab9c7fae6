package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SelfMatcherTest {
    @Test
    void topKAgreesWithAFullSortOnRandomKeys() {
        Random random = new Random(7);
        KeyMatrix keys = new KeyMatrix();
        List<float[]> all = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            float[] k = new float[16];
            for (int j = 0; j < k.length; j++) {
                k[j] = (float) random.nextGaussian();
            }
            keys.put("d" + i, k);
            all.add(k);
        }
        for (int i = 0; i < 100; i += 3) {
            keys.remove("d" + i);
        }
        float[] q = all.get(1);
        List<SelfMatcher.Match> expected = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (i % 3 == 0 && i < 100) {
                continue;
            }
            float s = 0;
            for (int j = 0; j < q.length; j++) {
                s += q[j] * all.get(i)[j];
            }
            expected.add(new SelfMatcher.Match("d" + i, s, s));
        }
        expected.sort(Comparator.comparingDouble((SelfMatcher.Match m) -> -m.score()));
        List<SelfMatcher.Match> top = SelfMatcher.topK(keys, q, 10);
        assertEquals(expected.subList(0, 10).stream().map(SelfMatcher.Match::docId).toList(),
                top.stream().map(SelfMatcher.Match::docId).toList());
    }

    @Test
    void batchOfQueriesMatchesExactlyLikeOneAtATime() {
        Random random = new Random(11);
        KeyMatrix keys = new KeyMatrix();
        for (int i = 0; i < 300; i++) {
            keys.put("d" + i, randomKey(random));
        }
        float[][] queries = {randomKey(random), randomKey(random), randomKey(random)};
        int[] ks = {1, 5, 400};
        List<List<SelfMatcher.Match>> batch = SelfMatcher.topK(keys, queries, ks);
        for (int q = 0; q < queries.length; q++) {
            assertEquals(SelfMatcher.topK(keys, queries[q], ks[q]), batch.get(q));
        }
        assertEquals(300, batch.get(2).size());
    }

    private static float[] randomKey(Random random) {
        float[] k = new float[8];
        for (int j = 0; j < k.length; j++) {
            k[j] = (float) random.nextGaussian();
        }
        return k;
    }

    @Test
    void tiesBreakOnDocIdSoResultsAreReproducible() {
        KeyMatrix keys = new KeyMatrix();
        keys.put("b", new float[] {1, 0});
        keys.put("a", new float[] {1, 0});
        keys.put("c", new float[] {1, 0});
        assertEquals(List.of("a", "b"), SelfMatcher.topK(keys, new float[] {1, 0}, 2).stream()
                .map(SelfMatcher.Match::docId).toList());
    }

    @Test
    void aSharedRareTermLiftsAMemoryAboveABetterDenseMatchButTheKeyScoreStaysDense() {
        KeyMatrix keys = new KeyMatrix();
        keys.put("dense", new float[] {1, 0}, new int[] {5}, new float[] {1f});
        keys.put("lexical", new float[] {0.6f, 0.8f}, new int[] {7, 9}, new float[] {2f, 3f});
        MatchKey query = new MatchKey(new float[] {1, 0}, new int[] {7, 9}, new float[] {0.1f, 0.1f});

        List<SelfMatcher.Match> top = SelfMatcher.topK(keys, query, 2);

        assertEquals(List.of("lexical", "dense"), top.stream().map(SelfMatcher.Match::docId).toList());
        SelfMatcher.Match lexical = top.get(0);
        assertEquals(0.6f + 0.5f, lexical.score(), 1e-2, "dense 0.6 + 0.1 * 2 + 0.1 * 3");
        assertEquals(0.6f, lexical.keyScore(), 1e-2, "the key score is the keys' cosine alone");
        assertEquals(SelfMatcher.topK(keys, MatchKey.dense(query.dense()), 2).get(0).docId(), "dense",
                "without its lexical half the query prefers the dense match");
    }

    @Test
    void lexicalScoresFollowTheirRowsThroughRemovesAndReplacements() {
        Random random = new Random(5);
        KeyMatrix keys = new KeyMatrix();
        java.util.Map<String, float[]> dense = new java.util.HashMap<>();
        java.util.Map<String, int[]> terms = new java.util.HashMap<>();
        java.util.Map<String, float[]> weights = new java.util.HashMap<>();
        for (int step = 0; step < 3000; step++) {
            String id = "d" + random.nextInt(400);
            if (random.nextInt(4) == 0) {
                keys.remove(id);
                dense.remove(id);
                terms.remove(id);
                weights.remove(id);
                continue;
            }
            int[] t = random.ints(random.nextInt(6), 0, 30).sorted().distinct().toArray();
            float[] w = new float[t.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = random.nextFloat() * 5;
            }
            float[] k = randomKey(random);
            keys.put(id, k, t, w);
            dense.put(id, k);
            terms.put(id, t);
            weights.put(id, w);
        }
        for (int trial = 0; trial < 20; trial++) {
            int[] qt = random.ints(4, 0, 32).sorted().distinct().toArray();
            float[] qw = new float[qt.length];
            java.util.Arrays.fill(qw, 0.05f);
            MatchKey query = new MatchKey(randomKey(random), qt, qw);
            List<SelfMatcher.Match> all = SelfMatcher.topK(keys, query, dense.size());
            assertEquals(dense.size(), all.size());
            for (SelfMatcher.Match m : all) {
                String id = m.docId();
                float alone = SelfMatcher.dot(query.dense(), dense.get(id))
                        + SelfMatcher.lexicalScore(query, terms.get(id), weights.get(id));
                assertEquals(alone, m.score(), 1e-5, id + ": the row's match score is the memory's, scored alone");
                assertEquals(SelfMatcher.dot(query.dense(), dense.get(id)), m.keyScore(), 1e-6, id + ": key score");
            }
        }
    }
}
