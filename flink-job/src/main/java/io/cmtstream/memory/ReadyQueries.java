package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * A shard's queries that the document watermark has released, waiting their turn to be matched: a FIFO kept in
 * keyed state, so a watermark step that releases thousands of queries only files them here and the operator
 * matches and emits them a bounded batch at a time. Emitting them all in the watermark's own step would block the
 * task's one thread on backpressure until the slow reader downstream had read them all, with no checkpoint barrier
 * let through meanwhile (docs/RELIABILITY.md section 17).
 *
 * <p>No Flink imports: the operator binds {@link Store} to its states; tests use maps. Not thread-safe; all calls
 * refer to the shard being processed.
 */
public final class ReadyQueries {
    /** Where the ready queries of the current shard live: entries under sequence numbers, and [head, tail). */
    public interface Store {
        /** {head, tail}, or null when the queue is empty. */
        long[] bounds() throws Exception;

        /** Sets the bounds; null clears them. */
        void putBounds(long[] bounds) throws Exception;

        ShardQuery get(long seq) throws Exception;

        void put(long seq, ShardQuery query) throws Exception;

        void remove(long seq) throws Exception;
    }

    private final Store store;

    public ReadyQueries(Store store) {
        this.store = store;
    }

    /** Appends {@code queries} in their order. */
    public void addAll(List<ShardQuery> queries) throws Exception {
        if (queries.isEmpty()) {
            return;
        }
        long[] b = store.bounds();
        long tail = b == null ? 0 : b[1];
        long head = b == null ? 0 : b[0];
        for (ShardQuery q : queries) {
            store.put(tail++, q);
        }
        store.putBounds(new long[] {head, tail});
    }

    /** Removes and returns the first {@code max} queries (fewer when fewer wait), oldest first. */
    public List<ShardQuery> take(int max) throws Exception {
        long[] b = store.bounds();
        if (b == null) {
            return List.of();
        }
        long end = Math.min(b[1], b[0] + max);
        List<ShardQuery> out = new ArrayList<>((int) (end - b[0]));
        for (long seq = b[0]; seq < end; seq++) {
            out.add(store.get(seq));
            store.remove(seq);
        }
        store.putBounds(end == b[1] ? null : new long[] {end, b[1]});
        return out;
    }

    public boolean isEmpty() throws Exception {
        return store.bounds() == null;
    }
}
