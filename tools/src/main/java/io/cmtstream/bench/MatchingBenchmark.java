package io.cmtstream.bench;

import io.cmtstream.memory.KeyMatrix;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.memory.SelfMatcher;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * JMH microbenchmarks of one shard's matching: the key matrix's kernels scoring every row (the SIMD kernel of
 * {@code memory/VectorKeyKernel} against the portable scalar one), the lexical half added, the top-k a query gets
 * ({@link SelfMatcher}), and keeping the matrix current (an upsert and a delete). Random unit keys of the bundled
 * model's width and random lexical terms; the whole-job figures stay with {@link BenchMain}.
 *
 * <pre>
 * mvn -B -q test-compile exec:exec@jmh -Dcmt.args="MatchingBenchmark"
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MatchingBenchmark {
    private static final int DIM = 384;
    private static final int TERMS_PER_MEMORY = 60;
    private static final int TERMS_PER_QUERY = 8;
    private static final int VOCABULARY = 30522;

    @Param({"10000", "100000"})
    public int memories;

    @Param({"vector", "scalar"})
    public String kernel;

    private KeyMatrix matrix;
    private float[] scores;
    private MatchKey dense;
    private MatchKey lexical;
    private float[] spareKey;

    @Setup
    public void fill() {
        Random random = new Random(20261202);
        matrix = kernel.equals("scalar") ? KeyMatrix.scalar() : new KeyMatrix();
        for (int i = 0; i < memories; i++) {
            matrix.put("m-" + i, unitKey(random), terms(random, TERMS_PER_MEMORY), weights(random, TERMS_PER_MEMORY));
        }
        if (!matrix.kernelName().toLowerCase().contains(kernel)) {
            throw new IllegalStateException("asked for the " + kernel + " kernel, got " + matrix.kernelName()
                    + " (the vector kernel needs --add-modules=jdk.incubator.vector)");
        }
        scores = new float[memories];
        float[] query = unitKey(random);
        dense = MatchKey.dense(query);
        lexical = new MatchKey(query, terms(random, TERMS_PER_QUERY), weights(random, TERMS_PER_QUERY));
        spareKey = unitKey(random);
    }

    /** Every row scored against one dense key: the kernel itself. */
    @Benchmark
    public float[] scoreAllDense() {
        matrix.scoreAll(dense, scores);
        return scores;
    }

    /** Every row scored, dense and lexical halves, as the bundled model matches. */
    @Benchmark
    public float[] scoreAllDenseAndLexical() {
        matrix.scoreAll(lexical, scores);
        return scores;
    }

    /** What a query gets from a shard: its top 3, dense and lexical. */
    @Benchmark
    public List<SelfMatcher.Match> topThree() {
        return SelfMatcher.topK(matrix, lexical, 3);
    }

    /** Keeping the matrix current: a new row in, then out again (the last row moves into its place). */
    @Benchmark
    public boolean upsertThenDelete() {
        matrix.put("spare", spareKey, lexical.terms(), lexical.weights());
        return matrix.remove("spare");
    }

    private static float[] unitKey(Random random) {
        float[] key = new float[DIM];
        double norm = 0;
        for (int i = 0; i < DIM; i++) {
            key[i] = (float) random.nextGaussian();
            norm += key[i] * key[i];
        }
        for (int i = 0; i < DIM; i++) {
            key[i] /= (float) Math.sqrt(norm);
        }
        return key;
    }

    private static int[] terms(Random random, int count) {
        return random.ints(0, VOCABULARY).distinct().limit(count).sorted().toArray();
    }

    private static float[] weights(Random random, int count) {
        float[] w = new float[count];
        for (int i = 0; i < count; i++) {
            w[i] = 0.5f + random.nextFloat() * 4;
        }
        return w;
    }
}
