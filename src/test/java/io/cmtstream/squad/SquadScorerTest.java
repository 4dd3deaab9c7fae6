package io.cmtstream.squad;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SquadScorerTest {

    private static final double EPS = 1e-9;

    @Test
    void normalizationLowercasesDropsPunctuationArticlesAndExtraWhitespace() {
        assertEquals("eiffel tower", SquadScorer.normalize("  The Eiffel Tower!  "));
        assertEquals("1973 oil crisis", SquadScorer.normalize("The 1973\toil\n crisis."));
        assertEquals("", SquadScorer.normalize(" a an  the ... "));
    }

    @Test
    void punctuationIsDeletedNotReplacedBySpace() {
        // string.punctuation characters vanish, so hyphenated or possessive words fuse, as in the official script.
        assertEquals("nonprofit", SquadScorer.normalize("non-profit"));
        assertEquals("teslas coil", SquadScorer.normalize("Tesla's coil"));
        assertEquals("1000000", SquadScorer.normalize("1,000,000"));
    }

    @Test
    void onlyAsciiPunctuationIsRemoved() {
        // The official script removes string.punctuation only: the en dash and curly quotes stay.
        assertEquals("1856–1943", SquadScorer.normalize("1856–1943"));
        assertEquals("“tesla”", SquadScorer.normalize("“Tesla”"));
    }

    @Test
    void articlesAreRemovedOnlyAsWholeWords() {
        assertEquals("theater answer another", SquadScorer.normalize("the theater an answer a another"));
        // Punctuation goes before articles: "the-bob" fuses into one word that keeps its "the".
        assertEquals("thebob", SquadScorer.normalize("The-Bob"));
        assertEquals("bob", SquadScorer.normalize("The (Bob)"));
    }

    @Test
    void exactMatchIgnoresArticlesAndPunctuation() {
        assertTrue(SquadScorer.exactMatch("the Denver Broncos.", "Denver Broncos"));
        assertTrue(SquadScorer.exactMatch("A  Mongol  empire", "mongol empire"));
        assertFalse(SquadScorer.exactMatch("Denver", "Denver Broncos"));
    }

    @Test
    void f1IsTokenOverlapAfterNormalization() {
        // "cat sat on mat" vs "cat on mat": 3 common, precision 3/4, recall 1.
        assertEquals(2 * 0.75 / 1.75, SquadScorer.f1("the cat sat on the mat", "a cat on a mat"), EPS);
        assertEquals(1.0, SquadScorer.f1("Nikola Tesla", "nikola tesla!"), EPS);
    }

    @Test
    void f1CountsRepeatedTokensOnlyAsOftenAsBothHaveThem() {
        // Counter intersection: "paris" is common once; precision 1/3, recall 1/2.
        assertEquals(0.4, SquadScorer.f1("paris paris paris", "Paris France"), EPS);
    }

    @Test
    void f1IsZeroWithoutCommonTokens() {
        assertEquals(0.0, SquadScorer.f1("London", "Paris"), EPS);
        assertEquals(0.0, SquadScorer.f1("the", "a"), EPS);
    }

    @Test
    void emptyAnswersFollowTheV11Script() {
        assertEquals(0.0, SquadScorer.f1("", "Paris"), EPS);
        assertEquals(0.0, SquadScorer.f1("", ""), EPS, "v1.1 gives F1 0 when no token is in common, even both empty");
        assertTrue(SquadScorer.exactMatch("", ""));
        assertTrue(SquadScorer.exactMatch("The.", ""));
        assertFalse(SquadScorer.exactMatch("", "Paris"));
    }

    @Test
    void scoresAreMaxedOverReferences() {
        List<String> references = List.of("October 1973", "October", "1973");
        assertEquals(1.0, SquadScorer.maxExactMatch("october", references), EPS);
        assertEquals(1.0, SquadScorer.maxF1("1973", references), EPS);
        // "in october 1973": best is "October 1973" with precision 2/3, recall 1.
        assertEquals(0.8, SquadScorer.maxF1("in October 1973", references), EPS);
        assertEquals(0.0, SquadScorer.maxExactMatch("in October 1973", references), EPS);
        assertEquals(0.0, SquadScorer.maxF1("anything", List.of()), EPS);
    }

    @Test
    void aggregateIsMeanTimesHundredAndUnansweredQuestionsCountAsZero() {
        List<SquadDataset.Question> questions = List.of(
                new SquadDataset.Question("q1", "When?", List.of("October 1973"), "t#0"),
                new SquadDataset.Question("q2", "Who?", List.of("Nikola Tesla", "Tesla"), "t#0"),
                new SquadDataset.Question("q3", "Where?", List.of("Paris"), "t#1"));
        SquadScorer.Score score = SquadScorer.score(questions, Map.of("q1", "October 1973", "q2", "Tesla coil"));
        assertEquals(3, score.questions());
        assertEquals(100.0 / 3, score.exactMatch(), EPS);
        // q1: 1; q2: best "Tesla" → precision 1/2, recall 1 → 2/3; q3 unanswered: 0.
        assertEquals(100.0 * (1 + 2.0 / 3) / 3, score.f1(), EPS);
    }
}
