package io.cmtstream.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Nearest-rank percentiles of a sample (latencies). */
public final class Percentiles {
    private Percentiles() {}

    /** The p-th percentile (0 < p <= 100) by nearest rank; NaN for an empty sample. */
    public static double of(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    /** "p50 X, p95 Y, p99 Z (n N)". */
    public static String describe(List<Double> values) {
        return String.format("p50 %.0f, p95 %.0f, p99 %.0f (n %d)", of(values, 50), of(values, 95), of(values, 99),
                values.size());
    }
}
