package io.cmtstream.memory;

/**
 * How a shard scores query keys against its int8 key rows. Two implementations compute the same sums in different
 * orders: {@link VectorKeyKernel} (the JDK's Vector API, where the JVM runs with
 * {@code --add-modules=jdk.incubator.vector}) and {@link ScalarKeyKernel} (anywhere). {@link KeyKernels#best()}
 * picks one per JVM, so every path of one process scores alike.
 */
interface KeyKernel {
    /**
     * {@code scores[q][r] = scales[r] * (queries[q] . codes[r * dim .. r * dim + dim))} for every query q and row
     * r < rows. Implementations read the rows once per batch of queries, a cache-sized block at a time.
     */
    void scoreAll(byte[] codes, float[] scales, int rows, int dim, float[][] queries, float[][] scores);

    /** For logs and benchmark reports. */
    String name();

    /** Rows per block: 256 rows of 384 int8 numbers are 96 KiB, well inside a core's L2 cache. */
    int BLOCK_ROWS = 256;
}
