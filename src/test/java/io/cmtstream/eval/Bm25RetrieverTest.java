package io.cmtstream.eval;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Bm25RetrieverTest {

    private static Bm25Retriever bm25;

    @BeforeAll
    static void index() {
        Map<String, String> docs = new LinkedHashMap<>();
        docs.put("tesla", "Nikola Tesla was a Serbian-American inventor who designed the alternating current system.");
        docs.put("khan", "Genghis Khan founded the Mongol Empire, the largest contiguous empire in history.");
        docs.put("fresno", "Fresno is a city in California's San Joaquin Valley, known for agriculture.");
        docs.put("parliament", "The Scottish Parliament sits at Holyrood in Edinburgh and was reconvened in 1999.");
        bm25 = Bm25Retriever.index(docs);
    }

    @AfterAll
    static void close() {
        bm25.close();
    }

    @Test
    void paragraphSharingTheQuestionsWordsRanksFirst() {
        assertEquals("khan", bm25.topK("Who founded the Mongol Empire?", 3).get(0).id());
        assertEquals("parliament", bm25.topK("Where does the Scottish Parliament sit?", 3).get(0).id());
        assertEquals(4, bm25.size());
    }

    @Test
    void returnsAtMostKHitsBestFirst() {
        List<Hit> hits = bm25.topK("Tesla inventor in California empire", 2);
        assertEquals(2, hits.size());
        assertTrue(hits.get(0).score() >= hits.get(1).score());
        assertTrue(bm25.topK("Tesla", 10).size() <= 4);
    }

    @Test
    void matchingIsCaseInsensitive() {
        assertEquals("tesla", bm25.topK("NIKOLA TESLA", 1).get(0).id());
    }

    @Test
    void querySyntaxCharactersAreTreatedAsText() {
        List<Hit> hits = bm25.topK("What did \"Tesla\" (AND Edison) design? title:foo* [1 TO 2] -current +system~ \\", 1);
        assertEquals("tesla", hits.get(0).id());
    }

    @Test
    void queryWithoutIndexableTermsFindsNothing() {
        assertEquals(List.of(), bm25.topK("the a of ??? !", 5));
        assertEquals(List.of(), bm25.topK("", 5));
    }

    @Test
    void kMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> bm25.topK("Tesla", 0));
    }
}
