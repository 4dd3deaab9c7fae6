package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SpanChooserTest {

    @Test
    void picksTheBestStartPlusEndWithEndNotBeforeStart() {
        // the best start (3) lies after the best end (1): the pair must be ordered
        float[] start = {0, -9, -9, 5, -9, 0};
        float[] end = {0, 9, -9, -9, 2, 0};
        SpanChooser.Span span = best(List.of(start), List.of(end), 10);
        assertEquals(new SpanChooser.Span(0, 3, 4, 7f), span);
    }

    @Test
    void neverPointsAtClsOrSep() {
        float[] start = {100, 0, 1, 100};
        float[] end = {100, 1, 0, 100};
        SpanChooser.Span span = best(List.of(start), List.of(end), 10);
        assertEquals(1, span.start());
        assertEquals(1, span.end());
    }

    @Test
    void spansAreAtMostMaxTokensLong() {
        float[] start = {0, 5, 0, 0, 0, 0, 0};
        float[] end = {0, 0, 0, 0, 0, 6, 0};
        assertEquals(new SpanChooser.Span(0, 1, 5, 11f), best(List.of(start), List.of(end), 5));
        // four tokens allowed: 1..5 is out; 1..4 (end 0) scores 5, 2..5 (start 0) scores 6
        assertEquals(new SpanChooser.Span(0, 2, 5, 6f), best(List.of(start), List.of(end), 4));
        assertEquals(new SpanChooser.Span(0, 5, 5, 6f), best(List.of(start), List.of(end), 1));
    }

    @Test
    void theSpansOfAllMemoriesCompeteWhateverTheirRank() {
        float[] weakStart = {0, 1, 1, 0};
        float[] weakEnd = {0, 1, 1, 0};
        float[] strongStart = {0, 0, 4, 0, 0};
        float[] strongEnd = {0, 0, 0, 3, 0};
        SpanChooser.Span span = best(List.of(weakStart, strongStart), List.of(weakEnd, strongEnd), 30);
        assertEquals(new SpanChooser.Span(1, 2, 3, 7f), span);
    }

    @Test
    void ofEqualScoresTheFirstMemoryEarliestAndShortestSpanWins() {
        float[] flat = {0, 1, 1, 1, 0};
        assertEquals(new SpanChooser.Span(0, 1, 1, 2f), best(List.of(flat, flat), List.of(flat, flat), 3));
    }

    @Test
    void noTokenBetweenClsAndSepGivesNoSpan() {
        assertNull(best(List.of(new float[] {1, 2}), List.of(new float[] {3, 4}), 30), "empty text");
        assertNull(best(List.of(), List.of(), 30), "closed book");
    }

    @Test
    void aMemorysMatchPriorRaisesEachOfItsSpans() {
        float[] weakStart = {0, 1, 1, 0};
        float[] weakEnd = {0, 1, 1, 0};
        float[] strongStart = {0, 0, 4, 0, 0};
        float[] strongEnd = {0, 0, 0, 3, 0};
        // the weak memory's spans score 2 + 6 = 8 against the strong one's 7 + 0.5
        SpanChooser.Span span = SpanChooser.best(List.of(weakStart, strongStart), List.of(weakEnd, strongEnd), 30,
                new float[] {6f, 0.5f});
        assertEquals(new SpanChooser.Span(0, 1, 1, 8f), span);
    }

    @Test
    void aMemoryReadLastWhosePriorTiesTheOneBeforeItWinsOnlyOnABetterSpan() {
        // Priors as a query read in listed order gets them: the gold, listed last, matched best but was clamped
        // to the score of the memory before it.
        float[] priors = {0.5f, 0.25f, 0.25f};
        float[] weak = {0, 1, 0};
        float[] other = {0, 2, 0};
        float[] otherEnd = {0, 1, 0};
        SpanChooser.Span tie = SpanChooser.best(List.of(weak, other, other), List.of(weak, otherEnd, otherEnd), 30,
                priors);
        assertEquals(new SpanChooser.Span(1, 1, 1, 3.25f), tie, "equal totals: the earlier memory wins");
        float[] goldEnd = {0, 1.5f, 0};
        SpanChooser.Span gold = SpanChooser.best(List.of(weak, other, other), List.of(weak, otherEnd, goldEnd), 30,
                priors);
        assertEquals(new SpanChooser.Span(2, 1, 1, 3.75f), gold, "read third, it still wins on its own span");
    }

    @Test
    void mismatchedLogitsAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> best(List.of(new float[3]), List.of(new float[4]), 30));
        assertThrows(IllegalArgumentException.class, () -> best(List.of(new float[3]), List.of(), 30));
        assertThrows(IllegalArgumentException.class,
                () -> best(List.of(new float[3]), List.of(new float[3]), 0));
        assertThrows(IllegalArgumentException.class,
                () -> SpanChooser.best(List.of(new float[3]), List.of(new float[3]), 30, new float[2]));
    }

    /** The spans alone: no memory has a prior. */
    private static SpanChooser.Span best(List<float[]> starts, List<float[]> ends, int maxTokens) {
        return SpanChooser.best(starts, ends, maxTokens, new float[starts.size()]);
    }
}
