package io.cmtstream.memory;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.TimeDomain;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The memory bank's Flink operator, keyed by (tenant, shard): documents and queries of a shard meet here in one
 * ordered place. Memories live in MapState (RocksDB); a query is matched once the document watermark has passed
 * its askedAt, so it sees every document published before it was asked, and (by default) only those: a memory
 * published after askedAt is skipped however early it arrived, so a replayed or late-processed query gets the same
 * answer. The bank keeps only a document's latest version, so a document upserted after askedAt is not seen at all,
 * and one deleted after askedAt is not seen either; such documents are named in the query's results
 * ({@link ShardHits#changed}) while the bank remembers when their versions were current ({@link VersionWindows}). The bank's {@link BankLayout} is kept beside it and checked on
 * restore.
 */
public class MemoryShardFunction extends KeyedCoProcessFunction<String, CompressedDocument, ShardQuery, ShardHits>
        implements CheckpointedFunction {
    static final MapStateDescriptor<String, Memory> MEMORIES =
            new MapStateDescriptor<>("memories", Types.STRING, TypeInformation.of(Memory.class));
    /** Pending queries under "askedAt/arrival number" (see {@link PendingQueries}). */
    static final MapStateDescriptor<String, ShardQuery> PENDING =
            new MapStateDescriptor<>("pending-by-asked-at", Types.STRING, TypeInformation.of(ShardQuery.class));
    static final MapStateDescriptor<Long, Integer> PENDING_COUNTS =
            new MapStateDescriptor<>("pending-counts", Types.LONG, Types.INT);
    /** Released queries waiting to be matched (see {@link ReadyQueries}). */
    static final MapStateDescriptor<Long, ShardQuery> READY =
            new MapStateDescriptor<>("ready-queries", Types.LONG, TypeInformation.of(ShardQuery.class));
    static final ValueStateDescriptor<long[]> READY_BOUNDS =
            new ValueStateDescriptor<>("ready-bounds",
                    PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO);
    /**
     * At most this many released queries of a shard are matched and emitted in one step of the task's thread. Each
     * emitted result carries its memories' states, and emitting blocks while the reader downstream is busy (a few
     * answers a second on 2 cores), so this bounds how long a checkpoint barrier waits behind a burst. The shards
     * of a subtask may fire in one step, so it is kept small: 32 per shard, 3 shards on a subtask, still let a
     * 10 s checkpoint expire (QueryBurstITCase); 4 did not.
     */
    public static final int RELEASE_BATCH = 4;
    /** When versions the bank no longer has were current, per document (see {@link VersionWindows}). */
    static final MapStateDescriptor<String, VersionWindow> VERSIONS =
            new MapStateDescriptor<>("version-windows", Types.STRING, TypeInformation.of(VersionWindow.class));
    /** At most this many documents are named as changed since a query's askedAt. */
    public static final int CHANGED_LIMIT = 10;
    /** Every subtask's {@link BankLayout}, as union state: after a rescale each subtask checks them all. */
    static final ListStateDescriptor<String> LAYOUT = new ListStateDescriptor<>("bank-layout", Types.STRING);

    private final boolean asOfAskedAt;
    private final BankLayout layout;
    private final long versionRetentionMillis;
    private transient ListState<String> layoutState;
    private transient MapState<String, Memory> memories;
    private transient PendingQueries pending;
    private transient ReadyQueries ready;
    /** Key matrices of the shards this subtask owns; a cache of state, rebuilt lazily after a restore. */
    private transient Map<String, KeyMatrix> keyMatrices;
    /** The same for the shards' version windows. */
    private transient Map<String, VersionWindows> versionWindows;
    private transient MapState<String, VersionWindow> versionState;
    private transient KeyedStore<Memory> store;
    private transient Counter upserts;
    private transient Counter deletes;
    private transient Counter queriesMatched;
    private transient Histogram matchMicros;
    private transient int lastMemoryBytes;

    /** Matching as of askedAt (the default of {@code cmt.query.as-of-asked-at}). */
    public MemoryShardFunction() {
        this(true, BankLayout.UNKNOWN);
    }

    /**
     * @param asOfAskedAt whether a query is matched only among memories published at or before its askedAt, so
     *                    its answer does not depend on how late it was processed
     * @param layout the shard count and memory space this bank is written under (its max parallelism is taken
     *               from the running operator)
     */
    public MemoryShardFunction(boolean asOfAskedAt, BankLayout layout) {
        this(asOfAskedAt, layout, 3_600_000L);
    }

    /**
     * @param versionRetentionMillis how long (document watermark time) the bank remembers when a replaced or
     *                               deleted version was current, to name it in a later-matched query's results
     */
    public MemoryShardFunction(boolean asOfAskedAt, BankLayout layout, long versionRetentionMillis) {
        this.asOfAskedAt = asOfAskedAt;
        this.layout = layout;
        this.versionRetentionMillis = versionRetentionMillis;
    }

    private BankLayout layout() {
        return layout.withMaxParallelism(getRuntimeContext().getTaskInfo().getMaxNumberOfParallelSubtasks());
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        layoutState = context.getOperatorStateStore().getUnionListState(LAYOUT);
        if (!context.isRestored()) {
            return;
        }
        BankLayout current = layout();
        for (String recorded : layoutState.get()) {
            String refusal = current.refusal(BankLayout.decode(recorded));
            if (refusal != null) {
                // A restart would restore the same state under the same options: fail once, saying why.
                throw new SuppressRestartsException(new IllegalStateException(refusal));
            }
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        layoutState.update(List.of(layout().encode()));
    }

    private long asOf(ShardQuery query) {
        return asOfAskedAt ? query.askedAt : SelfMatcher.ANY_TIME;
    }

    @Override
    public void open(OpenContext openContext) {
        memories = getRuntimeContext().getMapState(MEMORIES);
        pending = new PendingQueries(new PendingStateStore(getRuntimeContext().getMapState(PENDING),
                getRuntimeContext().getMapState(PENDING_COUNTS)));
        ready = new ReadyQueries(new ReadyStateStore(getRuntimeContext().getMapState(READY),
                getRuntimeContext().getState(READY_BOUNDS)));
        keyMatrices = new HashMap<>();
        versionWindows = new HashMap<>();
        versionState = getRuntimeContext().getMapState(VERSIONS);
        store = new MapStateStore<>(memories);
        var metrics = getRuntimeContext().getMetricGroup();
        upserts = metrics.counter("memoriesUpserted");
        deletes = metrics.counter("memoriesDeleted");
        queriesMatched = metrics.counter("queriesMatched");
        matchMicros = metrics.histogram("matchMicros", new DescriptiveStatisticsHistogram(1000));
        metrics.gauge("memories", () -> keyMatrices.values().stream().mapToLong(KeyMatrix::size).sum());
        // Terms held by the lexical index: its heap share grows with this, not with the memory count alone.
        metrics.gauge("lexicalEntries", () -> keyMatrices.values().stream().mapToLong(KeyMatrix::lexicalEntries).sum());
        metrics.gauge("bytesPerMemory", () -> lastMemoryBytes);
    }

    private MemoryBank bank(String shardKey) throws Exception {
        KeyMatrix keys = keyMatrices.get(shardKey);
        if (keys == null) {
            keys = MemoryBank.rebuildKeys(store);
            keyMatrices.put(shardKey, keys);
        }
        VersionWindows versions = versionWindows.get(shardKey);
        if (versions == null) {
            versions = VersionWindows.load(new MapStateStore<>(versionState));
            versionWindows.put(shardKey, versions);
        }
        return new MemoryBank(store, keys, versions);
    }

    /** Forgets versions whose window ended more than the retention before the document watermark. */
    private void pruneVersions(String shardKey, long watermark) throws Exception {
        VersionWindows versions = versionWindows.get(shardKey);
        if (versions != null && watermark > Long.MIN_VALUE + versionRetentionMillis) {
            versions.prune(watermark - versionRetentionMillis);
        }
    }

    @Override
    public void processElement1(CompressedDocument doc, Context ctx, Collector<ShardHits> out) throws Exception {
        MemoryBank bank = bank(ctx.getCurrentKey());
        pruneVersions(ctx.getCurrentKey(), ctx.timerService().currentWatermark());
        if (doc.delete) {
            if (bank.delete(doc.docId, doc.publishedAt)) {
                deletes.inc();
            }
        } else {
            bank.upsert(doc.memory);
            upserts.inc();
            lastMemoryBytes = doc.memory.vectorBytes();
        }
    }

    @Override
    public void processElement2(ShardQuery query, Context ctx, Collector<ShardHits> out) throws Exception {
        if (query.askedAt <= ctx.timerService().currentWatermark()) {
            out.collect(match(ctx.getCurrentKey(), query));
        } else if (pending.add(query)) {
            ctx.timerService().registerEventTimeTimer(query.askedAt);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<ShardHits> out) throws Exception {
        if (ctx.timeDomain() == TimeDomain.EVENT_TIME) {
            // One timer per distinct askedAt, fired in order. A watermark step may fire thousands in one go: here
            // they only move their queries to the ready queue; the processing-time timer matches them in batches.
            List<ShardQuery> due = pending.release(timestamp);
            if (!due.isEmpty()) {
                ready.addAll(due);
                scheduleRelease(ctx);
            }
            return;
        }
        List<ShardQuery> batch = ready.take(RELEASE_BATCH);
        if (!ready.isEmpty()) {
            scheduleRelease(ctx);
        }
        if (!batch.isEmpty()) {
            matchReleased(ctx.getCurrentKey(), batch, out);
        }
    }

    /**
     * A processing-time timer just after now: a new step of the task's thread, so checkpoint barriers and input go
     * between batches. Timers of one key at one time are one timer, so asking twice costs nothing.
     */
    private static void scheduleRelease(OnTimerContext ctx) {
        ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 1);
    }

    private void matchReleased(String shardKey, List<ShardQuery> due, Collector<ShardHits> out) throws Exception {
        MemoryBank bank = bank(shardKey);
        List<ShardQuery> open = new ArrayList<>();
        for (ShardQuery q : due) {
            if (q.restrictTo == null) {
                open.add(q);
            } else {
                out.collect(match(bank, q));
            }
        }
        if (open.isEmpty()) {
            return;
        }
        // Queries released together share one pass over the key matrix.
        long started = System.nanoTime();
        MatchKey[] keys = new MatchKey[open.size()];
        int[] ks = new int[open.size()];
        long[] asOf = new long[open.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = open.get(i).matchKey();
            ks[i] = open.get(i).topK;
            asOf[i] = asOf(open.get(i));
        }
        List<List<MemoryHit>> hits = bank.topK(keys, ks, asOf);
        long perQuery = (System.nanoTime() - started) / open.size();
        for (int i = 0; i < keys.length; i++) {
            out.collect(result(bank, open.get(i), hits.get(i), perQuery));
        }
    }

    private ShardHits match(String shardKey, ShardQuery query) throws Exception {
        return match(bank(shardKey), query);
    }

    private ShardHits match(MemoryBank bank, ShardQuery query) throws Exception {
        long started = System.nanoTime();
        List<MemoryHit> hits;
        if (query.restrictTo == null) {
            hits = bank.topK(query.matchKey(), query.topK, asOf(query));
        } else if (query.readInListedOrder) {
            hits = bank.firstAmong(query.matchKey(), List.of(query.restrictTo), query.topK, asOf(query));
        } else {
            hits = bank.topKAmong(query.matchKey(), List.of(query.restrictTo), query.topK, asOf(query));
        }
        return result(bank, query, hits, System.nanoTime() - started);
    }

    private ShardHits result(MemoryBank bank, ShardQuery query, List<MemoryHit> hits, long matchNanos) {
        ShardHits result = new ShardHits();
        result.tenant = query.tenant;
        result.queryId = query.queryId;
        result.shard = query.shard;
        result.askedAt = query.askedAt;
        result.searched = bank.size();
        result.hits = hits.toArray(new MemoryHit[0]);
        result.matchNanos = matchNanos;
        if (asOfAskedAt) {
            result.changed = bank.changedAfter(query.askedAt, CHANGED_LIMIT).toArray(new String[0]);
        }
        matchMicros.update(matchNanos / 1000);
        queriesMatched.inc();
        return result;
    }

    /** Binds the pending queries to Flink's MapStates of the current key. */
    private record PendingStateStore(MapState<String, ShardQuery> queries, MapState<Long, Integer> counts)
            implements PendingQueries.Store {
        private static String key(long askedAt, int seq) {
            return askedAt + "/" + seq;
        }

        @Override
        public Integer count(long askedAt) throws Exception {
            return counts.get(askedAt);
        }

        @Override
        public void putCount(long askedAt, int count) throws Exception {
            counts.put(askedAt, count);
        }

        @Override
        public void removeCount(long askedAt) throws Exception {
            counts.remove(askedAt);
        }

        @Override
        public ShardQuery get(long askedAt, int seq) throws Exception {
            return queries.get(key(askedAt, seq));
        }

        @Override
        public void put(long askedAt, int seq, ShardQuery query) throws Exception {
            queries.put(key(askedAt, seq), query);
        }

        @Override
        public void remove(long askedAt, int seq) throws Exception {
            queries.remove(key(askedAt, seq));
        }
    }

    /** Binds the ready queries to Flink's states of the current key. */
    private record ReadyStateStore(MapState<Long, ShardQuery> queries, ValueState<long[]> range)
            implements ReadyQueries.Store {
        @Override
        public long[] bounds() throws Exception {
            return range.value();
        }

        @Override
        public void putBounds(long[] value) throws Exception {
            if (value == null) {
                range.clear();
            } else {
                range.update(value);
            }
        }

        @Override
        public ShardQuery get(long seq) throws Exception {
            return queries.get(seq);
        }

        @Override
        public void put(long seq, ShardQuery query) throws Exception {
            queries.put(seq, query);
        }

        @Override
        public void remove(long seq) throws Exception {
            queries.remove(seq);
        }
    }

    /** Binds a shard's store to Flink's MapState of the current key. */
    private record MapStateStore<V>(MapState<String, V> state) implements KeyedStore<V> {
        @Override
        public V get(String docId) throws Exception {
            return state.get(docId);
        }

        @Override
        public void put(String docId, V value) throws Exception {
            state.put(docId, value);
        }

        @Override
        public void remove(String docId) throws Exception {
            state.remove(docId);
        }

        @Override
        public Iterable<Map.Entry<String, V>> entries() throws Exception {
            return state.entries();
        }
    }
}
