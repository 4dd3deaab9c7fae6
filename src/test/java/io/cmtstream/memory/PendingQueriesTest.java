package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PendingQueriesTest {
    /** Maps, counting every read and write, so the work of a release can be measured. */
    static final class CountingStore implements PendingQueries.Store {
        final Map<Long, Integer> counts = new HashMap<>();
        final Map<String, ShardQuery> queries = new HashMap<>();
        long accesses;

        @Override
        public Integer count(long askedAt) {
            accesses++;
            return counts.get(askedAt);
        }

        @Override
        public void putCount(long askedAt, int count) {
            accesses++;
            counts.put(askedAt, count);
        }

        @Override
        public void removeCount(long askedAt) {
            accesses++;
            counts.remove(askedAt);
        }

        @Override
        public ShardQuery get(long askedAt, int seq) {
            accesses++;
            return queries.get(askedAt + "/" + seq);
        }

        @Override
        public void put(long askedAt, int seq, ShardQuery query) {
            accesses++;
            queries.put(askedAt + "/" + seq, query);
        }

        @Override
        public void remove(long askedAt, int seq) {
            accesses++;
            queries.remove(askedAt + "/" + seq);
        }
    }

    static ShardQuery query(String id, long askedAt) {
        ShardQuery q = new ShardQuery();
        q.tenant = "acme";
        q.queryId = id;
        q.askedAt = askedAt;
        q.topK = 1;
        q.key = new float[] {1, 0};
        return q;
    }

    private final CountingStore store = new CountingStore();
    private final PendingQueries pending = new PendingQueries(store);

    @Test
    void releaseReturnsExactlyTheQueriesAskedAtThatTimeInArrivalOrder() throws Exception {
        assertTrue(pending.add(query("a", 100)));
        assertTrue(pending.add(query("b", 200)));
        assertFalse(pending.add(query("c", 100)), "a second query at 100 needs no second timer");
        assertEquals(List.of("a", "c"), pending.release(100).stream().map(q -> q.queryId).toList());
        assertEquals(List.of(), pending.release(100));
        assertEquals(List.of("b"), pending.release(200).stream().map(q -> q.queryId).toList());
        assertTrue(store.counts.isEmpty());
        assertTrue(store.queries.isEmpty());
    }

    @Test
    void twoQueriesWithOneIdAreBothKept() throws Exception {
        pending.add(query("same", 100));
        pending.add(query("same", 100));
        assertEquals(2, pending.release(100).size());
    }

    @Test
    void releasingOneTimeTouchesOnlyItsQueriesHoweverManyWait() throws Exception {
        for (int i = 0; i < 50_000; i++) {
            pending.add(query("q" + i, 1_000 + i));
        }
        pending.add(query("also-at-5000", 5_000));
        store.accesses = 0;
        List<ShardQuery> released = pending.release(5_000);
        assertEquals(List.of("q4000", "also-at-5000"), released.stream().map(q -> q.queryId).toList());
        // One count read, two gets, two removes, one count removal: the other 49,999 are never read.
        assertEquals(6, store.accesses);
        assertEquals(49_999, store.queries.size());
    }
}
