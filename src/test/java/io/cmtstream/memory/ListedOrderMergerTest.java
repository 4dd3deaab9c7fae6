package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class ListedOrderMergerTest {

    private static MemoryHit hit(String docId, float score, float keyScore) {
        return new MemoryHit(docId, score, keyScore, new byte[] {1, 2}, new float[] {0.5f}, new short[] {7});
    }

    private static List<String> ids(List<MemoryHit> hits) {
        return hits.stream().map(h -> h.docId).toList();
    }

    private static float[] scores(List<MemoryHit> hits) {
        float[] out = new float[hits.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = hits.get(i).score;
        }
        return out;
    }

    private static float[] keyScores(List<MemoryHit> hits) {
        float[] out = new float[hits.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = hits.get(i).keyScore;
        }
        return out;
    }

    @Test
    void theGoldListedLastIsReadLastWithAScoreNoHigherThanThoseBeforeIt() {
        // The gold matches best by far and lives on another shard than the two listed before it.
        MemoryHit[] shard0 = {hit("gold", 0.9f, 0.8f)};
        MemoryHit[] shard1 = {hit("other2", 0.3f, 0.35f), hit("other1", 0.5f, 0.2f)};
        List<MemoryHit> merged = ListedOrderMerger.merge(List.of(shard0, shard1),
                new String[] {"other1", "other2", "gold"}, 3);
        assertEquals(List.of("other1", "other2", "gold"), ids(merged));
        assertArrayEquals(new float[] {0.5f, 0.3f, 0.3f}, scores(merged), "the gold ties the one before it at best");
        assertArrayEquals(new float[] {0.2f, 0.2f, 0.2f}, keyScores(merged), "key scores are clamped the same way");
    }

    @Test
    void aHitScoringBelowThoseBeforeItKeepsItsOwnScore() {
        MemoryHit[] shard = {hit("a", 0.9f, 0.9f), hit("b", 0.4f, 0.4f), hit("c", 0.6f, 0.1f)};
        List<MemoryHit> merged = ListedOrderMerger.merge(List.<MemoryHit[]>of(shard), new String[] {"a", "b", "c"}, 3);
        assertArrayEquals(new float[] {0.9f, 0.4f, 0.4f}, scores(merged));
        assertArrayEquals(new float[] {0.9f, 0.4f, 0.1f}, keyScores(merged));
    }

    @Test
    void listedDocumentsNoShardMatchedAreSkippedAndTheFirstKOfTheRestAreKept() {
        MemoryHit[] shard0 = {hit("b", 0.2f, 0.2f), hit("d", 0.9f, 0.9f)};
        MemoryHit[] shard1 = {hit("c", 0.7f, 0.7f)};
        List<MemoryHit> merged = ListedOrderMerger.merge(List.of(shard0, shard1),
                new String[] {"missing", "c", "b", "c", "d"}, 2);
        assertEquals(List.of("c", "b"), ids(merged), "a repeated id counts once; k caps what is read");
        assertEquals(List.of("c", "b", "d"), ids(ListedOrderMerger.merge(List.of(shard0, shard1),
                new String[] {"missing", "c", "b", "c", "d"}, 10)));
        assertEquals(List.of(), ListedOrderMerger.merge(List.of(shard0, shard1), new String[0], 3), "closed book");
    }

    @Test
    void theShardsHitsAreCopiedNotChangedAndKeepWhatTheReaderReads() {
        MemoryHit gold = hit("gold", 0.9f, 0.8f);
        MemoryHit[] shard = {hit("a", 0.1f, 0.1f), gold};
        List<MemoryHit> merged = ListedOrderMerger.merge(List.<MemoryHit[]>of(shard), new String[] {"a", "gold"}, 2);
        assertEquals(0.9f, gold.score);
        assertEquals(0.8f, gold.keyScore);
        assertSame(gold.states, merged.get(1).states);
        assertSame(gold.stateScales, merged.get(1).stateScales);
        assertSame(gold.pieces, merged.get(1).pieces);
    }
}
