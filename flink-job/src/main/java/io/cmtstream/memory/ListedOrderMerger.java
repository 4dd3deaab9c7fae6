package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Merges the shards' hits of a query read in listed order (Query.readOrder LISTED): the first k listed documents
 * that some shard matched, in the order listed, whatever their match scores. Each hit's score and key score are
 * clamped to at most the previous hit's clamped ones, so a memory listed later never carries the higher
 * match-score prior into the reader: at best it ties the memories before it.
 *
 * <p>Stateless; the hits returned are copies (their arrays still shared with the bank's memories), the inputs are
 * not changed.
 */
public final class ListedOrderMerger {
    private ListedOrderMerger() {}

    /**
     * @param perShard each shard's hits; shards hold disjoint documents
     * @param listed the query's restrictTo, in the order the reader gets them; a repeated id counts once
     * @param k at most this many hits
     */
    public static List<MemoryHit> merge(List<MemoryHit[]> perShard, String[] listed, int k) {
        Map<String, MemoryHit> byDocId = new HashMap<>();
        for (MemoryHit[] hits : perShard) {
            for (MemoryHit hit : hits) {
                byDocId.putIfAbsent(hit.docId, hit);
            }
        }
        List<MemoryHit> out = new ArrayList<>(Math.min(k, byDocId.size()));
        float score = Float.POSITIVE_INFINITY;
        float keyScore = Float.POSITIVE_INFINITY;
        for (String docId : new LinkedHashSet<>(List.of(listed))) {
            if (out.size() >= k) {
                break;
            }
            MemoryHit hit = byDocId.get(docId);
            if (hit != null) {
                score = Math.min(score, hit.score);
                keyScore = Math.min(keyScore, hit.keyScore);
                out.add(new MemoryHit(hit.docId, score, keyScore, hit.states, hit.stateScales, hit.pieces));
            }
        }
        return out;
    }
}
