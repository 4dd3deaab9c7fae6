package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The bank keeps only each document's latest version. This remembers, per document, the window in which versions
 * it no longer has were current, so a query matched as of its askedAt can say which documents it may have read
 * differently at that time (replaced or deleted since). Windows of one document merge into their hull: a query
 * asked while the document did not exist between a delete and a re-creation is named too (never missed).
 * Windows ending before a retention horizon are dropped ({@link #prune}), which bounds the state.
 *
 * <p>Plain class, no Flink: a heap mirror of its store. Not thread-safe.
 */
public final class VersionWindows {
    private final KeyedStore<VersionWindow> store;
    private final Map<String, VersionWindow> windows = new HashMap<>();
    /** Documents by the end of their window, for pruning in order. */
    private final TreeMap<Long, Set<String>> byUntil = new TreeMap<>();

    private VersionWindows(KeyedStore<VersionWindow> store) {
        this.store = store;
    }

    /** The windows of {@code store}, read once. */
    public static VersionWindows load(KeyedStore<VersionWindow> store) throws Exception {
        VersionWindows w = new VersionWindows(store);
        for (Map.Entry<String, VersionWindow> e : store.entries()) {
            w.index(e.getKey(), e.getValue());
        }
        return w;
    }

    /** A version of {@code docId} current since {@code since} stopped being current at {@code until}. */
    public void ended(String docId, long since, long until) throws Exception {
        if (until <= since) {
            return; // an out-of-order upsert: no time at which the old version alone was current
        }
        VersionWindow old = windows.get(docId);
        VersionWindow merged = old == null ? new VersionWindow(since, until)
                : new VersionWindow(Math.min(old.since, since), Math.max(old.until, until));
        if (old != null) {
            unindex(docId, old);
        }
        index(docId, merged);
        store.put(docId, merged);
    }

    /** Up to {@code limit} documents, sorted, that had a version current at {@code askedAt} the bank no longer has. */
    public List<String> changedAfter(long askedAt, int limit) {
        List<String> out = new ArrayList<>();
        // Only windows ending after askedAt can cover it.
        for (Set<String> docs : byUntil.tailMap(askedAt, false).values()) {
            for (String docId : docs) {
                if (windows.get(docId).covers(askedAt)) {
                    out.add(docId);
                }
            }
        }
        out.sort(null);
        return out.size() > limit ? out.subList(0, limit) : out;
    }

    /** Drops windows that ended before {@code horizon}; returns how many. */
    public int prune(long horizon) throws Exception {
        int dropped = 0;
        while (!byUntil.isEmpty() && byUntil.firstKey() < horizon) {
            for (String docId : byUntil.pollFirstEntry().getValue()) {
                windows.remove(docId);
                store.remove(docId);
                dropped++;
            }
        }
        return dropped;
    }

    public int size() {
        return windows.size();
    }

    private void index(String docId, VersionWindow w) {
        windows.put(docId, w);
        byUntil.computeIfAbsent(w.until, u -> new HashSet<>()).add(docId);
    }

    private void unindex(String docId, VersionWindow w) {
        Set<String> docs = byUntil.get(w.until);
        docs.remove(docId);
        if (docs.isEmpty()) {
            byUntil.remove(w.until);
        }
    }
}
