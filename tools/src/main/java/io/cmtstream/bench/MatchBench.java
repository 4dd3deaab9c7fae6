package io.cmtstream.bench;

import io.cmtstream.eval.Percentiles;
import io.cmtstream.memory.KeyMatrix;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.memory.Memory;
import io.cmtstream.memory.SelfMatcher;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Matching alone, on the shard's own kernel ({@link SelfMatcher#topK} over a {@link KeyMatrix}, dense keys plus the
 * lexical index where the model has one; {@code denseP50} without the lexical half), at bank sizes
 * the job bench cannot fill in a session: the bank split over 1 and 2 shards (one thread per shard, as one subtask
 * per slot), one query at a time and in batches of {@link #BATCH} (queries that wait in a shard together share one
 * pass over its rows). On one shard the same rows are also scored by the portable scalar kernel and, as the
 * reference the int8 encoding is measured against, by the previous float kernel (eight partial sums over float
 * rows).
 */
final class MatchBench {
    private MatchBench() {}

    static final int BATCH = 8;

    /**
     * Per-query matching time in ms; {@code batchedP50} per query of a batch of {@link #BATCH}; {@code scalarP50}
     * and {@code floatP50} only on one shard (NaN otherwise).
     */
    record Result(int memories, int shards, String kernel, double p50, double p99, double batchedP50,
                  double denseP50, double scalarP50, double floatP50) {}

    static List<Result> measure(List<Memory> memories, int[] sizes, int[] shardCounts, List<MatchKey> queries,
                                PrintStream out) throws Exception {
        List<float[]> base = memories.stream().map(m -> m.key).toList();
        List<float[]> denseQueries = queries.stream().map(MatchKey::dense).toList();
        List<Result> results = new ArrayList<>();
        for (int size : sizes) {
            for (int shards : shardCounts) {
                KeyMatrix[] banks = new KeyMatrix[shards];
                for (int s = 0; s < shards; s++) {
                    banks[s] = new KeyMatrix();
                }
                for (int i = 0; i < size; i++) {
                    Memory m = memories.get(i % memories.size());
                    banks[i % shards].put("m-" + i, m.key, m.terms, m.termWeights);
                }
                ExecutorService pool = Executors.newFixedThreadPool(shards);
                try {
                    double[] single = time(queries, q -> parallel(pool, banks, new MatchKey[] {q}));
                    MatchKey[] batch = queries.subList(0, Math.min(BATCH, queries.size())).toArray(MatchKey[]::new);
                    double batched = time(queries, q -> parallel(pool, banks, batch))[0] / batch.length;
                    double dense = time(denseQueries,
                            q -> parallel(pool, banks, new MatchKey[] {MatchKey.dense(q)}))[0];
                    double scalar = Double.NaN;
                    double floats = Double.NaN;
                    if (shards == 1) {
                        KeyMatrix portable = KeyMatrix.scalar();
                        float[] rows = new float[size * base.get(0).length];
                        int dim = base.get(0).length;
                        for (int i = 0; i < size; i++) {
                            portable.put("m-" + i, base.get(i % base.size()));
                            System.arraycopy(base.get(i % base.size()), 0, rows, i * dim, dim);
                        }
                        scalar = time(denseQueries, q -> SelfMatcher.topK(portable, q, 3))[0];
                        floats = time(denseQueries, q -> floatScan(rows, q, dim))[0];
                    }
                    Result r = new Result(size, shards, banks[0].kernelName(), single[0], single[1], batched,
                            dense, scalar, floats);
                    out.println("match: " + r);
                    results.add(r);
                } finally {
                    pool.shutdownNow();
                }
            }
        }
        return results;
    }

    interface Scan<Q> {
        void run(Q query) throws Exception;
    }

    /** p50 and p99 in ms of {@code scan} over the queries, after five unmeasured ones that warm the JIT up. */
    private static <Q> double[] time(List<Q> queries, Scan<Q> scan) throws Exception {
        List<Double> times = new ArrayList<>();
        for (int q = 0; q < queries.size() + 5; q++) {
            long t0 = System.nanoTime();
            scan.run(queries.get(q % queries.size()));
            if (q >= 5) {
                times.add((System.nanoTime() - t0) / 1e6);
            }
        }
        return new double[] {Percentiles.of(times, 50), Percentiles.of(times, 99)};
    }

    private static void parallel(ExecutorService pool, KeyMatrix[] banks, MatchKey[] batch) throws Exception {
        int[] ks = new int[batch.length];
        Arrays.fill(ks, 3);
        List<Future<?>> parts = new ArrayList<>();
        for (KeyMatrix bank : banks) {
            parts.add(pool.submit((Callable<?>) () -> SelfMatcher.topK(bank, batch, ks)));
        }
        for (Future<?> part : parts) {
            part.get();
        }
    }

    /** The previous kernel, over float rows: eight partial sums per row, best score kept. */
    static float floatScan(float[] rows, float[] query, int dim) {
        float best = Float.NEGATIVE_INFINITY;
        for (int base = 0; base < rows.length; base += dim) {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
            int j = 0;
            for (; j + 8 <= dim; j += 8) {
                int b = base + j;
                s0 += rows[b] * query[j];
                s1 += rows[b + 1] * query[j + 1];
                s2 += rows[b + 2] * query[j + 2];
                s3 += rows[b + 3] * query[j + 3];
                s4 += rows[b + 4] * query[j + 4];
                s5 += rows[b + 5] * query[j + 5];
                s6 += rows[b + 6] * query[j + 6];
                s7 += rows[b + 7] * query[j + 7];
            }
            for (; j < dim; j++) {
                s0 += rows[base + j] * query[j];
            }
            best = Math.max(best, ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)));
        }
        return best;
    }

    static String toMarkdown(List<Result> results) {
        StringBuilder md = new StringBuilder();
        md.append("\n## Matching alone (the shard's kernel, outside Flink)\n\n");
        md.append("Real keys of the test split's paragraphs replicated to the size, top-3, one thread per shard; "
                + "keys as int8 rows, with their lexical halves in the shard's inverted index where the model has "
                + "them (p50, p99, batched); `dense p50`: the same queries without their lexical halves. `batched`: "
                + "per query of a batch of " + BATCH + " sharing one pass; `scalar`: "
                + "the portable kernel (JVMs without the Vector API module); `float`: the previous kernel over "
                + "float rows (one shard).\n\n");
        md.append("| memories | shards | kernel | p50 ms | p99 ms | batched p50 ms/query | dense p50 ms | scalar p50 ms "
                + "| float p50 ms |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            md.append(String.format("| %d | %d | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |%n", r.memories(),
                    r.shards(), r.kernel(), r.p50(), r.p99(), r.batchedP50(), r.denseP50(), orDash(r.scalarP50()),
                    orDash(r.floatP50())));
        }
        return md.toString();
    }

    private static String orDash(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f", v);
    }
}
