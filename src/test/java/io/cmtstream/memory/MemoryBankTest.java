package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryBankTest {
    /** The bank's store in unit tests; Flink's MapState in the job. */
    static final class MapStore implements MemoryStore {
        final Map<String, Memory> map = new HashMap<>();

        @Override
        public Memory get(String docId) {
            return map.get(docId);
        }

        @Override
        public void put(String docId, Memory memory) {
            map.put(docId, memory);
        }

        @Override
        public void remove(String docId) {
            map.remove(docId);
        }

        @Override
        public Iterable<Map.Entry<String, Memory>> entries() {
            return map.entrySet();
        }
    }

    static Memory memory(String id, float... key) {
        return new Memory(id, 0, key, new short[] {1, 2}, 10, null, null);
    }

    private final MapStore store = new MapStore();
    private final MemoryBank bank = new MemoryBank(store, new KeyMatrix());

    @Test
    void topKReturnsBestMatchesFirstWithTheirTokens() throws Exception {
        bank.upsert(memory("a", 1, 0));
        bank.upsert(memory("b", 0, 1));
        bank.upsert(memory("c", 0.6f, 0.8f));
        List<MemoryHit> hits = bank.topK(new float[] {0, 1}, 2);
        assertEquals(List.of("b", "c"), hits.stream().map(h -> h.docId).toList());
        assertEquals(1f, hits.get(0).score, 1e-6);
        assertEquals(2, hits.get(0).tokens.length);
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
    void emptyBankMatchesNothing() throws Exception {
        assertTrue(bank.topK(new float[] {1, 0}, 3).isEmpty());
    }

    @Test
    void keyOfAnotherWidthIsRefused() throws Exception {
        bank.upsert(memory("a", 1, 0));
        assertThrows(IllegalArgumentException.class, () -> bank.upsert(memory("b", 1, 0, 0)));
        assertThrows(IllegalArgumentException.class, () -> bank.topK(new float[] {1, 0, 0}, 1));
    }
}
