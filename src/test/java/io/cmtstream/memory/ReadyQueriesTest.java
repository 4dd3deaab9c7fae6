package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadyQueriesTest {
    /** Maps standing in for the operator's keyed state. */
    static final class MapStore implements ReadyQueries.Store {
        final Map<Long, ShardQuery> queries = new HashMap<>();
        long[] bounds;

        @Override
        public long[] bounds() {
            return bounds;
        }

        @Override
        public void putBounds(long[] b) {
            bounds = b;
        }

        @Override
        public ShardQuery get(long seq) {
            return queries.get(seq);
        }

        @Override
        public void put(long seq, ShardQuery query) {
            queries.put(seq, query);
        }

        @Override
        public void remove(long seq) {
            queries.remove(seq);
        }
    }

    private static List<String> ids(List<ShardQuery> qs) {
        return qs.stream().map(q -> q.queryId).toList();
    }

    private static List<ShardQuery> queries(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> PendingQueriesTest.query("q" + i, i)).toList();
    }

    @Test
    void queriesComeOutInTheOrderTheyWentInAtMostMaxAtATime() throws Exception {
        MapStore store = new MapStore();
        ReadyQueries ready = new ReadyQueries(store);
        ready.addAll(queries(0, 5));
        assertEquals(List.of("q0", "q1"), ids(ready.take(2)));
        ready.addAll(queries(5, 7));
        assertEquals(List.of("q2", "q3", "q4"), ids(ready.take(3)));
        assertFalse(ready.isEmpty());
        assertEquals(List.of("q5", "q6"), ids(ready.take(10)));
        assertTrue(ready.isEmpty());
        assertEquals(List.of(), ready.take(10));
    }

    @Test
    void anEmptiedQueueLeavesNoStateBehind() throws Exception {
        MapStore store = new MapStore();
        ReadyQueries ready = new ReadyQueries(store);
        ready.addAll(queries(0, 3));
        ready.addAll(List.of());
        ready.take(3);
        assertEquals(Map.of(), store.queries);
        assertEquals(null, store.bounds);
    }
}
