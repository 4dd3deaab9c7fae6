package io.cmtstream.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PercentilesTest {
    @Test
    void nearestRankPercentiles() {
        List<Double> values = List.of(5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0);
        assertEquals(5.0, Percentiles.of(values, 50));
        assertEquals(10.0, Percentiles.of(values, 95));
        assertEquals(1.0, Percentiles.of(values, 1));
        assertTrue(Double.isNaN(Percentiles.of(List.of(), 50)));
    }
}
