package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * A shard's queries waiting for the document watermark, filed by askedAt: for each askedAt a count, and the
 * queries under (askedAt, arrival number). Releasing the queries of one askedAt reads exactly those, so the work of
 * a watermark step is the number of queries it releases, however many others wait (the previous layout, one map by
 * query id, was scanned whole on every timer). Two queries with the same id never overwrite each other here
 * (ids are made unique per tenant upstream, by {@code ingest/QueryIdGuard}).
 *
 * <p>No Flink imports: the operator binds {@link Store} to its MapStates; tests use maps. Not thread-safe; all
 * calls refer to the shard being processed.
 */
public final class PendingQueries {
    /** Where the pending queries of the current shard live. */
    public interface Store {
        Integer count(long askedAt) throws Exception;

        void putCount(long askedAt, int count) throws Exception;

        void removeCount(long askedAt) throws Exception;

        ShardQuery get(long askedAt, int seq) throws Exception;

        void put(long askedAt, int seq, ShardQuery query) throws Exception;

        void remove(long askedAt, int seq) throws Exception;
    }

    private final Store store;

    public PendingQueries(Store store) {
        this.store = store;
    }

    /**
     * Files a query under its askedAt.
     *
     * @return whether it is the first at that askedAt (the caller then sets the one timer for it)
     */
    public boolean add(ShardQuery query) throws Exception {
        Integer count = store.count(query.askedAt);
        int seq = count == null ? 0 : count;
        store.put(query.askedAt, seq, query);
        store.putCount(query.askedAt, seq + 1);
        return seq == 0;
    }

    /** Removes and returns the queries asked at exactly {@code askedAt}, in arrival order; empty when none. */
    public List<ShardQuery> release(long askedAt) throws Exception {
        Integer count = store.count(askedAt);
        if (count == null) {
            return List.of();
        }
        List<ShardQuery> released = new ArrayList<>(count);
        for (int seq = 0; seq < count; seq++) {
            ShardQuery q = store.get(askedAt, seq);
            if (q != null) {
                released.add(q);
                store.remove(askedAt, seq);
            }
        }
        store.removeCount(askedAt);
        return released;
    }
}
