package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Top-aggregation's first half: merges each shard's local top-k into the query's global top-k.
 * Shards hold disjoint documents, so the global k best are among the union of the local k best.
 */
public final class TopKMerger {
    private TopKMerger() {}

    private static final Comparator<MemoryHit> BEST_FIRST =
            Comparator.comparingDouble((MemoryHit h) -> -h.score).thenComparing(h -> h.docId);

    public static List<MemoryHit> merge(List<MemoryHit[]> perShard, int k) {
        List<MemoryHit> all = new ArrayList<>();
        for (MemoryHit[] hits : perShard) {
            all.addAll(List.of(hits));
        }
        all.sort(BEST_FIRST);
        return all.size() > k ? new ArrayList<>(all.subList(0, k)) : all;
    }
}
