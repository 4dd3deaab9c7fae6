package io.cmtstream.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class AnswerTextTest {

    @Test
    void joinsPossessivesThatSpanTokens() {
        assertEquals("easter nice's", AnswerText.cleanUp("easter nice ' s"));
    }

    @Test
    void joinsPunctuationAndContractions() {
        assertEquals("it isn't over, he said.", AnswerText.cleanUp("it isn't over , he said ."));
        assertEquals("they're here", AnswerText.cleanUp("they 're here"));
    }

    @Test
    void leavesOrdinaryTextAlone() {
        assertEquals("the 1, 000 men", AnswerText.cleanUp(" the 1, 000 men "));
    }
}
