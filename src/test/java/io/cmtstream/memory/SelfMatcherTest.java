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
            expected.add(new SelfMatcher.Match("d" + i, s));
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
}
