package io.cmtstream.memory;

/**
 * The portable kernel, for JVMs without the Vector API module. Plain loops compile to scalar code, where widening
 * each int8 code to a float costs more than the multiply itself (measured: 2.4x slower than the float kernel it
 * replaced), so the query is brought to int16 instead and the sums are exact integer sums; the query's rounding,
 * under 1/32767 of its largest component, is the only difference to {@link VectorKeyKernel}'s scores.
 */
final class ScalarKeyKernel implements KeyKernel {
    /** Int16 query times int8 code is under 2^22 in magnitude: 256 of them cannot overflow an int. */
    private static final int CHUNK = 256;

    @Override
    public void scoreAll(byte[] codes, float[] scales, int rows, int dim, float[][] queries, float[][] scores) {
        short[][] wide = new short[queries.length][dim];
        float[] queryScales = new float[queries.length];
        for (int q = 0; q < queries.length; q++) {
            queryScales[q] = toInt16(queries[q], wide[q]);
        }
        for (int r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
            int r1 = Math.min(rows, r0 + BLOCK_ROWS);
            for (int q = 0; q < queries.length; q++) {
                short[] query = wide[q];
                float queryScale = queryScales[q];
                float[] out = scores[q];
                for (int r = r0; r < r1; r++) {
                    out[r] = scales[r] * queryScale * dot(codes, r * dim, query, dim);
                }
            }
        }
    }

    static long dot(byte[] codes, int base, short[] query, int dim) {
        long sum = 0;
        for (int j0 = 0; j0 < dim; j0 += CHUNK) {
            int end = Math.min(dim, j0 + CHUNK);
            int s = 0;
            for (int j = j0; j < end; j++) {
                s += codes[base + j] * query[j];
            }
            sum += s;
        }
        return sum;
    }

    /** Writes {@code query} as int16 into {@code into}, largest component at +-32767; returns the scale back. */
    static float toInt16(float[] query, short[] into) {
        float scale = KeyMatrix.symmetricScale(query, 32767);
        if (scale == 0f) {
            java.util.Arrays.fill(into, (short) 0);
            return 0f;
        }
        for (int j = 0; j < query.length; j++) {
            into[j] = (short) Math.max(-32767, Math.min(32767, Math.round(query[j] / scale)));
        }
        return scale;
    }

    @Override
    public String name() {
        return "scalar";
    }
}
