package io.cmtstream.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RetrievalMetricsTest {

    private static final double EPS = 1e-12;

    @Test
    void rankIsOneBasedAndZeroWhenAbsent() {
        assertEquals(1, RetrievalMetrics.rank(List.of("a", "b"), "a"));
        assertEquals(2, RetrievalMetrics.rank(List.of("a", "b"), "b"));
        assertEquals(0, RetrievalMetrics.rank(List.of("a", "b"), "c"));
    }

    @Test
    void recallAtKCountsQuestionsWhoseGoldIsWithinTheFirstK() {
        RetrievalMetrics m = new RetrievalMetrics(10);
        m.add(List.of("g", "x", "y"), "g");                              // rank 1
        m.add(List.of("x", "y", "z", "w", "g"), "g");                    // rank 5
        m.add(List.of("x", "y", "z", "w", "v", "u", "g"), "g");          // rank 7
        m.add(List.of("x", "y"), "g");                                   // not found
        assertEquals(4, m.questions());
        assertEquals(0.25, m.recallAt(1), EPS);
        assertEquals(0.50, m.recallAt(5), EPS);
        assertEquals(0.75, m.recallAt(10), EPS);
    }

    @Test
    void meanReciprocalRankAveragesOneOverRank() {
        RetrievalMetrics m = new RetrievalMetrics(10);
        m.add(List.of("g"), "g");
        m.add(List.of("x", "g"), "g");
        m.add(List.of("x", "y", "z", "g"), "g");
        m.add(List.of("x"), "g");
        assertEquals((1 + 0.5 + 0.25 + 0) / 4, m.meanReciprocalRank(), EPS);
    }

    @Test
    void goldBeyondMaxKCountsAsNotFound() {
        RetrievalMetrics m = new RetrievalMetrics(2);
        m.add(List.of("x", "y", "g"), "g");
        assertEquals(0.0, m.recallAt(2), EPS);
        assertEquals(0.0, m.meanReciprocalRank(), EPS);
        assertThrows(IllegalArgumentException.class, () -> m.recallAt(3));
    }

    @Test
    void hitsAreReadInOrder() {
        RetrievalMetrics m = new RetrievalMetrics(5);
        m.addHits(List.of(new Hit("x", 3.0), new Hit("g", 2.0)), "g");
        assertEquals(0.0, m.recallAt(1), EPS);
        assertEquals(1.0, m.recallAt(2), EPS);
    }

    @Test
    void noQuestionsGivesNaN() {
        RetrievalMetrics m = new RetrievalMetrics(10);
        assertTrue(Double.isNaN(m.recallAt(1)));
        assertTrue(Double.isNaN(m.meanReciprocalRank()));
    }
}
