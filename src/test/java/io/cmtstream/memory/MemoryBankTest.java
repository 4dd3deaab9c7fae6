package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryBankTest {
    /** A shard's store in unit tests; Flink's MapState in the job. */
    static final class MapStore<V> implements KeyedStore<V> {
        final Map<String, V> map = new LinkedHashMap<>();

        @Override
        public V get(String docId) {
            return map.get(docId);
        }

        @Override
        public void put(String docId, V value) {
            map.put(docId, value);
        }

        @Override
        public void remove(String docId) {
            map.remove(docId);
        }

        @Override
        public Iterable<Map.Entry<String, V>> entries() {
            return map.entrySet();
        }
    }

    static Memory memory(String id, float... key) {
        return new Memory(id, 0, key, new byte[] {1, 2, 3, 4}, new float[] {0.5f, 0.25f},
                new short[] {101, 102}, 10, null, null);
    }

    private final MapStore<Memory> store = new MapStore<>();
    private final MemoryBank bank = new MemoryBank(store, new KeyMatrix());

    @Test
    void topKReturnsBestMatchesFirstWithWhatTheReaderReads() throws Exception {
        bank.upsert(memory("a", 1, 0));
        bank.upsert(memory("b", 0, 1));
        bank.upsert(memory("c", 0.6f, 0.8f));
        List<MemoryHit> hits = bank.topK(new float[] {0, 1}, 2);
        assertEquals(List.of("b", "c"), hits.stream().map(h -> h.docId).toList());
        assertEquals(1f, hits.get(0).score, 1e-6);
        assertArrayEquals(new byte[] {1, 2, 3, 4}, hits.get(0).states);
        assertArrayEquals(new float[] {0.5f, 0.25f}, hits.get(0).stateScales);
        assertArrayEquals(new short[] {101, 102}, hits.get(0).pieces);
    }

    @Test
    void republishingADocumentReplacesItsMemory() throws Exception {
        assertFalse(bank.upsert(memory("a", 1, 0)));
        assertTrue(bank.upsert(memory("a", 0, 1)));
        assertEquals(1, bank.size());
        assertEquals(1f, bank.topK(new float[] {0, 1}, 1).get(0).score, 1e-6);
    }

    @Test
    void deletedDocumentIsNeverEvidenceAgain() throws Exception {
        bank.upsert(memory("a", 1, 0));
        bank.upsert(memory("b", 0, 1));
        assertTrue(bank.delete("a"));
        assertFalse(bank.delete("a"));
        assertEquals(List.of("b"), bank.topK(new float[] {1, 0}, 5).stream().map(h -> h.docId).toList());
        assertFalse(store.map.containsKey("a"));
    }

    @Test
    void keyMatrixRebuiltFromStateMatchesTheSameWay() throws Exception {
        bank.upsert(memory("a", 1, 0));
        bank.upsert(memory("b", 0, 1));
        MemoryBank restored = new MemoryBank(store, MemoryBank.rebuildKeys(store));
        assertEquals(bank.topK(new float[] {0.3f, 0.7f}, 2).stream().map(h -> h.docId).toList(),
                restored.topK(new float[] {0.3f, 0.7f}, 2).stream().map(h -> h.docId).toList());
    }

    @Test
    void restrictedMatchingOnlyScoresTheNamedDocumentsThisShardHolds() throws Exception {
        bank.upsert(memory("a", 1, 0));
        bank.upsert(memory("b", 0, 1));
        assertEquals(List.of("b"), bank.topKAmong(new float[] {1, 0}, List.of("b", "elsewhere"), 3).stream()
                .map(h -> h.docId).toList());
        assertTrue(bank.topKAmong(new float[] {1, 0}, List.of(), 3).isEmpty());
    }

    @Test
    void matchingInListedOrderKeepsTheFirstKHeldAndPublishedByAsOfWhateverTheirScores() throws Exception {
        Memory late = memory("late", 1, 0);
        late.publishedAt = 300;
        bank.upsert(memory("weak", 0, 1));
        bank.upsert(memory("best", 1, 0));
        bank.upsert(memory("middle", 0.6f, 0.8f));
        bank.upsert(late);
        MatchKey q = MatchKey.dense(new float[] {1, 0});
        List<String> listed = List.of("weak", "elsewhere", "late", "weak", "middle", "best");
        List<MemoryHit> hits = bank.firstAmong(q, listed, 3, 200);
        assertEquals(List.of("weak", "middle", "best"), hits.stream().map(h -> h.docId).toList());
        List<MemoryHit> byScore = bank.topKAmong(q, listed, 3, 200);
        assertEquals(List.of("best", "middle", "weak"), byScore.stream().map(h -> h.docId).toList(),
                "the same documents by match score");
        assertEquals(byScore.get(2).score, hits.get(0).score, "scored as restricted matching scores them");
        assertEquals(byScore.get(1).score, hits.get(1).score);
        assertEquals(byScore.get(1).keyScore, hits.get(1).keyScore);
        assertTrue(hits.get(2).score > hits.get(1).score, "not reordered by score");
        assertEquals(List.of("weak", "late"), bank.firstAmong(q, listed, 2, SelfMatcher.ANY_TIME).stream()
                .map(h -> h.docId).toList());
    }

    @Test
    void emptyBankMatchesNothing() throws Exception {
        assertTrue(bank.topK(new float[] {1, 0}, 3).isEmpty());
    }

    @Test
    void keyOfAnotherWidthIsRefused() throws Exception {
        bank.upsert(memory("a", 1, 0));
        assertThrows(IllegalArgumentException.class, () -> bank.upsert(memory("b", 1, 0, 0)));
        assertThrows(IllegalArgumentException.class, () -> bank.topK(new float[] {1, 0, 0}, 1));
    }

    @Test
    void theLexicalHalfSurvivesARestoreAndScopedMatchingScoresLikeTheMatrix() throws Exception {
        bank.upsert(memory("a", 1, 0).withTerms(new int[] {3, 8}, new float[] {2f, 1f}));
        bank.upsert(memory("b", 0.8f, 0.6f).withTerms(new int[] {8}, new float[] {4f}));
        bank.upsert(memory("old", 0.9f, 0.1f)); // state written before lexical matching: no terms
        MatchKey query = new MatchKey(new float[] {1, 0}, new int[] {8}, new float[] {0.1f});

        List<MemoryHit> hits = bank.topK(query, 3);
        assertEquals(List.of("b", "a", "old"), hits.stream().map(h -> h.docId).toList(),
                "b: 0.8 + 0.4, a: 1 + 0.1, old: 0.9");
        assertEquals(0.8f, hits.get(0).keyScore, 1e-2);

        MemoryBank restored = new MemoryBank(store, MemoryBank.rebuildKeys(store));
        List<MemoryHit> again = restored.topK(query, 3);
        List<MemoryHit> scoped = restored.topKAmong(query, List.of("a", "b", "old"), 3);
        for (int i = 0; i < hits.size(); i++) {
            assertEquals(hits.get(i).docId, again.get(i).docId);
            assertEquals(hits.get(i).score, again.get(i).score, 0f);
            assertEquals(hits.get(i).docId, scoped.get(i).docId);
            assertEquals(hits.get(i).score, scoped.get(i).score, 1e-6f);
            assertEquals(hits.get(i).keyScore, scoped.get(i).keyScore, 0f);
            assertArrayEquals(hits.get(i).pieces, again.get(i).pieces, "hits carry their memory's pieces");
            assertArrayEquals(hits.get(i).pieces, scoped.get(i).pieces);
        }
    }

    @Test
    void aMalformedLexicalHalfIsRejectedBeforeStateIsWritten() {
        Memory bad = memory("bad", 1, 0).withTerms(new int[] {8, 3}, new float[] {1f, 1f});
        assertThrows(IllegalArgumentException.class, () -> bank.upsert(bad));
        assertTrue(store.map.isEmpty());
        assertEquals(0, bank.size());
    }

    @Test
    void matchingAsOfATimeSkipsMemoriesPublishedLaterAndTheMatrixKeepsTimesAcrossRemovals() throws Exception {
        Memory early = memory("early", 0.6f, 0.8f);
        early.publishedAt = 100;
        Memory late = memory("late", 1, 0);
        late.publishedAt = 300;
        Memory gone = memory("gone", 0, 1);
        gone.publishedAt = 50;
        bank.upsert(gone);
        bank.upsert(early);
        bank.upsert(late);
        // Removing the first row moves the last ("late") into its place, with its time.
        bank.delete("gone");
        MatchKey q = MatchKey.dense(new float[] {1, 0});
        assertEquals(List.of("early"), bank.topK(q, 2, 200).stream().map(h -> h.docId).toList());
        assertEquals(List.of("late", "early"), bank.topK(q, 2, 300).stream().map(h -> h.docId).toList());
        assertEquals(List.of("late", "early"), bank.topK(q, 2).stream().map(h -> h.docId).toList());
        assertEquals(List.of("early"), bank.topK(new MatchKey[] {q}, new int[] {2}, new long[] {299}).get(0)
                .stream().map(h -> h.docId).toList());
        assertEquals(List.of("early"), bank.topKAmong(q, List.of("late", "early"), 2, 200).stream()
                .map(h -> h.docId).toList());
        // After a restore the matrix is rebuilt from state, times included.
        MemoryBank restored = new MemoryBank(store, MemoryBank.rebuildKeys(store));
        assertEquals(List.of("early"), restored.topK(q, 2, 200).stream().map(h -> h.docId).toList());
    }
}
