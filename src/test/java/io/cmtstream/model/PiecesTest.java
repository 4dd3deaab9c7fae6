package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chunk flag as training/late_extract.py encode_with_spaces sets it on the normalised text. */
class PiecesTest {

    @Test
    void packsTheIdAndTheFlag() {
        short piece = Pieces.of(30521, true);
        assertEquals(30521, Pieces.id(piece));
        assertTrue(Pieces.startsChunk(piece));
        assertEquals(101, Pieces.id(Pieces.of(101, false)));
        assertFalse(Pieces.startsChunk(Pieces.of(101, false)));
        assertThrows(IllegalArgumentException.class, () -> Pieces.of(0x8000, false));
    }

    @Test
    void aTokenStartsAChunkAfterWhitespaceOrAtTheStart() {
        String text = "rose by 94.0%\tin\u00a0x";
        assertTrue(Pieces.startsChunk(text, 0));
        assertTrue(Pieces.startsChunk(text, 5), "by");
        assertTrue(Pieces.startsChunk(text, 8), "94");
        assertFalse(Pieces.startsChunk(text, 10), ". after 94");
        assertFalse(Pieces.startsChunk(text, 12), "%");
        assertTrue(Pieces.startsChunk(text, 14), "after a tab");
        assertTrue(Pieces.startsChunk(text, 17), "after a no-break space, whitespace to the normaliser");
    }

    @Test
    void charactersTheNormaliserDeletesAreLookedThrough() {
        assertTrue(Pieces.startsChunk(" \u0000x", 2), "NUL");
        assertTrue(Pieces.startsChunk("\u200bx", 1), "a format character at the start");
        assertFalse(Pieces.startsChunk("a\u0301x", 2), "a combining mark after a letter");
    }

    @Test
    void cjkIdeographsAreChunksOfTheirOwn() {
        String text = "x中文y";
        assertTrue(Pieces.startsChunk(text, 1), "an ideograph");
        assertTrue(Pieces.startsChunk(text, 2), "an ideograph after one");
        assertTrue(Pieces.startsChunk(text, 3), "after an ideograph");
    }
}
