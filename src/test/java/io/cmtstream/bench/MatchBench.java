package io.cmtstream.bench;

import io.cmtstream.eval.Percentiles;
import io.cmtstream.memory.KeyMatrix;
import io.cmtstream.memory.SelfMatcher;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Matching alone, on the shard's own kernel ({@link SelfMatcher#topK} over a {@link KeyMatrix}), at bank sizes
 * the job bench cannot fill in a session (1M memories of RocksDB state is about 25 GB): single queries, the bank
 * split over 1 and 2 shards (one thread per shard, as one subtask per slot), against a one-accumulator dot product
 * over the same floats as the reference the kernel is measured against.
 */
final class MatchBench {
    private MatchBench() {}

    /** Per-query matching time in ms; {@code naiveP50} is the one-accumulator reference on one shard. */
    record Result(int memories, int shards, double p50, double p99, double naiveP50) {}

    static List<Result> measure(List<float[]> base, int[] sizes, int[] shardCounts, List<float[]> queries,
                                PrintStream out) throws Exception {
        List<Result> results = new ArrayList<>();
        for (int size : sizes) {
            for (int shards : shardCounts) {
                KeyMatrix[] banks = new KeyMatrix[shards];
                float[][] flat = new float[shards][];
                for (int s = 0; s < shards; s++) {
                    banks[s] = new KeyMatrix();
                }
                for (int i = 0; i < size; i++) {
                    banks[i % shards].put("m-" + i, base.get(i % base.size()));
                }
                int dim = base.get(0).length;
                for (int s = 0; s < shards; s++) {
                    flat[s] = new float[banks[s].size() * dim];
                    for (int i = s, r = 0; i < size; i += shards, r++) {
                        System.arraycopy(base.get(i % base.size()), 0, flat[s], r * dim, dim);
                    }
                }
                ExecutorService pool = Executors.newFixedThreadPool(shards);
                try {
                    List<Double> times = new ArrayList<>();
                    List<Double> naive = new ArrayList<>();
                    for (int q = 0; q < queries.size() + 5; q++) {
                        float[] query = queries.get(q % queries.size());
                        long t0 = System.nanoTime();
                        List<Future<?>> parts = new ArrayList<>();
                        for (KeyMatrix bank : banks) {
                            parts.add(pool.submit(() -> SelfMatcher.topK(bank, query, 3)));
                        }
                        for (Future<?> part : parts) {
                            part.get();
                        }
                        double ms = (System.nanoTime() - t0) / 1e6;
                        if (shards == 1) {
                            long t1 = System.nanoTime();
                            naiveScan(flat[0], query, dim);
                            double naiveMs = (System.nanoTime() - t1) / 1e6;
                            if (q >= 5) {
                                naive.add(naiveMs);
                            }
                        }
                        if (q >= 5) { // the first few warm the JIT up
                            times.add(ms);
                        }
                    }
                    Result r = new Result(size, shards, Percentiles.of(times, 50), Percentiles.of(times, 99),
                            naive.isEmpty() ? Double.NaN : Percentiles.of(naive, 50));
                    out.println("match: " + r);
                    results.add(r);
                } finally {
                    pool.shutdownNow();
                }
            }
        }
        return results;
    }

    /** The reference: one running sum per row, as the kernel was before it kept eight. */
    static float naiveScan(float[] rows, float[] query, int dim) {
        float best = Float.NEGATIVE_INFINITY;
        for (int base = 0; base < rows.length; base += dim) {
            float s = 0f;
            for (int j = 0; j < dim; j++) {
                s += rows[base + j] * query[j];
            }
            best = Math.max(best, s);
        }
        return best;
    }

    static String toMarkdown(List<Result> results) {
        StringBuilder md = new StringBuilder();
        md.append("\n## Matching alone (the shard's kernel, outside Flink)\n\n");
        md.append("Real keys of the test split's paragraphs replicated to the size, one query at a time, top-3; "
                + "`naive` is a one-accumulator dot product over the same floats on one shard.\n\n");
        md.append("| memories | shards | p50 ms | p99 ms | naive p50 ms |\n|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            md.append(String.format("| %d | %d | %.1f | %.1f | %s |%n", r.memories(), r.shards(), r.p50(), r.p99(),
                    Double.isNaN(r.naiveP50()) ? "-" : String.format("%.1f", r.naiveP50())));
        }
        return md.toString();
    }
}
