package io.cmtstream.memory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * One shard of the memory bank: applies upserts and deletes to the store and answers top-k self-matching
 * queries from the key matrix that mirrors it.
 *
 * <p>Plain class, no Flink: the Flink operator binds it to the current key's state. Not thread-safe.
 */
public final class MemoryBank {
    private final KeyedStore<Memory> store;
    private final KeyMatrix keys;
    /** Null: the versions a replaced or deleted document had are not tracked. */
    private final VersionWindows versions;

    /** Binds a store to its key matrix; use {@link #rebuildKeys} to make the matrix after a restore. */
    public MemoryBank(KeyedStore<Memory> store, KeyMatrix keys) {
        this(store, keys, null);
    }

    /** As {@link #MemoryBank(KeyedStore, KeyMatrix)}, recording in {@code versions} what upserts and deletes end. */
    public MemoryBank(KeyedStore<Memory> store, KeyMatrix keys, VersionWindows versions) {
        this.store = store;
        this.keys = keys;
        this.versions = versions;
    }

    /** Reads every stored key into a fresh matrix: the one pass over state a restore costs. */
    public static KeyMatrix rebuildKeys(KeyedStore<Memory> store) throws Exception {
        KeyMatrix matrix = new KeyMatrix();
        for (Map.Entry<String, Memory> e : store.entries()) {
            Memory m = e.getValue();
            matrix.put(e.getKey(), m.key, m.terms, m.termWeights, m.publishedAt);
        }
        return matrix;
    }

    /**
     * Stores the memory, replacing any earlier memory of the same document. Returns true if it replaced one (the
     * key matrix mirrors state, so this costs no state read).
     */
    public boolean upsert(Memory memory) throws Exception {
        // Only a replacement reads state: for since when the document has existed.
        Memory old = versions != null && keys.contains(memory.docId) ? store.get(memory.docId) : null;
        memory.firstPublishedAt = old == null ? memory.publishedAt : old.existsSince();
        // The matrix first: it rejects a malformed lexical half before state is written.
        boolean replaced = keys.put(memory.docId, memory.key, memory.terms, memory.termWeights, memory.publishedAt);
        store.put(memory.docId, memory);
        if (old != null) {
            versions.ended(memory.docId, old.existsSince(), memory.publishedAt);
        }
        return replaced;
    }

    /** Forgets the document. Returns true if it was there. */
    public boolean delete(String docId) throws Exception {
        return delete(docId, Long.MIN_VALUE);
    }

    /** Forgets the document, deleted at {@code deletedAt} (event time). Returns true if it was there. */
    public boolean delete(String docId, long deletedAt) throws Exception {
        if (versions != null && keys.contains(docId)) {
            Memory old = store.get(docId);
            if (old != null) {
                versions.ended(docId, old.existsSince(), deletedAt);
            }
        }
        store.remove(docId);
        return keys.remove(docId);
    }

    /**
     * Up to {@code limit} documents that had a version current at {@code askedAt} which the bank no longer has (none
     * where versions are not tracked): a query matched as of {@code askedAt} may have read them differently then.
     */
    public List<String> changedAfter(long askedAt, int limit) {
        return versions == null ? List.of() : versions.changedAfter(askedAt, limit);
    }

    public int size() {
        return keys.size();
    }

    /**
     * Like {@link #topK} but only among {@code docIds} (those this shard holds; others are skipped): oracle and
     * closed-book baselines, and questions scoped to known documents.
     */
    public List<MemoryHit> topKAmong(MatchKey query, Collection<String> docIds, int k) throws Exception {
        return topKAmong(query, docIds, k, SelfMatcher.ANY_TIME);
    }

    /** {@link #topKAmong(MatchKey, Collection, int)} among memories published at or before {@code asOf}. */
    public List<MemoryHit> topKAmong(MatchKey query, Collection<String> docIds, int k, long asOf) throws Exception {
        List<MemoryHit> hits = among(query, docIds, Integer.MAX_VALUE, asOf);
        return TopKMerger.merge(List.<MemoryHit[]>of(hits.toArray(new MemoryHit[0])), k);
    }

    /**
     * The first {@code k} of {@code docIds} that this shard holds, published at or before {@code asOf}, in the
     * order listed (a repeated id counts once), each scored as {@link #topKAmong} scores it: a shard's part of a
     * query read in listed order. The global first k in listed order are among the shards' own first k.
     */
    public List<MemoryHit> firstAmong(MatchKey query, Collection<String> docIds, int k, long asOf) throws Exception {
        return among(query, docIds, k, asOf);
    }

    private List<MemoryHit> among(MatchKey query, Collection<String> docIds, int limit, long asOf) throws Exception {
        List<MemoryHit> hits = new ArrayList<>();
        for (String docId : new LinkedHashSet<>(docIds)) {
            if (hits.size() >= limit) {
                break;
            }
            Memory memory = store.get(docId);
            if (memory != null && (asOf == SelfMatcher.ANY_TIME || memory.publishedAt <= asOf)) {
                float keyScore = SelfMatcher.dot(query.dense(), memory.key);
                float score = keyScore + SelfMatcher.lexicalScore(query, memory.terms, memory.termWeights);
                hits.add(MemoryHit.of(memory, score, keyScore));
            }
        }
        return hits;
    }

    /** {@link #topKAmong(MatchKey, Collection, int)} for a dense-only query. */
    public List<MemoryHit> topKAmong(float[] queryKey, Collection<String> docIds, int k) throws Exception {
        return topKAmong(MatchKey.dense(queryKey), docIds, k);
    }

    /** {@link #topK} for several queries with one pass over the key matrix. */
    public List<List<MemoryHit>> topK(MatchKey[] queryKeys, int[] ks) throws Exception {
        return topK(queryKeys, ks, null);
    }

    /** {@link #topK(MatchKey[], int[])}, query q among memories published at or before {@code asOf[q]}. */
    public List<List<MemoryHit>> topK(MatchKey[] queryKeys, int[] ks, long[] asOf) throws Exception {
        List<List<MemoryHit>> out = new ArrayList<>(queryKeys.length);
        for (List<SelfMatcher.Match> matches : SelfMatcher.topK(keys, queryKeys, ks, asOf)) {
            out.add(hits(matches));
        }
        return out;
    }

    /** The k memories whose keys best match {@code query}, best first, with what the reader reads of them. */
    public List<MemoryHit> topK(MatchKey query, int k) throws Exception {
        return topK(query, k, SelfMatcher.ANY_TIME);
    }

    /** {@link #topK(MatchKey, int)} among memories published at or before {@code asOf} (epoch millis). */
    public List<MemoryHit> topK(MatchKey query, int k, long asOf) throws Exception {
        return hits(SelfMatcher.topK(keys, query, k, asOf));
    }

    /** {@link #topK(MatchKey, int)} for a dense-only query. */
    public List<MemoryHit> topK(float[] queryKey, int k) throws Exception {
        return topK(MatchKey.dense(queryKey), k);
    }

    private List<MemoryHit> hits(List<SelfMatcher.Match> matches) throws Exception {
        List<MemoryHit> hits = new ArrayList<>(matches.size());
        for (SelfMatcher.Match m : matches) {
            Memory memory = store.get(m.docId());
            if (memory == null) {
                throw new IllegalStateException("key matrix holds " + m.docId() + " but the bank's state does not");
            }
            hits.add(MemoryHit.of(memory, m.score(), m.keyScore()));
        }
        return hits;
    }
}
