package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Detokenisation of a span as the trainer does it (training/late_reader.py span_text). */
class PieceTextTest {

    private static final String[] VOCAB = {"[PAD]", "[CLS]", "[SEP]", "94", ".", "0", "%", "the", "black", "death",
        "##s", "##tra", "rome", "(", ")", "1347", "-"};
    private static final PieceText TEXT = new PieceText(VOCAB, "##");

    private static short p(int id, boolean startsChunk) {
        return Pieces.of(id, startsChunk);
    }

    @Test
    void piecesOfOneChunkJoinWithoutSpaces() {
        // "... rose by 94.0% ..." -> 94 . 0 %, one chunk
        short[] pieces = {p(1, false), p(3, true), p(4, false), p(5, false), p(6, false), p(2, false)};
        assertEquals("94.0%", TEXT.text(pieces, 1, 4));
    }

    @Test
    void chunksAreSeparatedByOneSpaceAndContinuationsLoseTheirMarks() {
        // "the black deaths (1347-" -> the | black | death ##s | ( 1347 -
        short[] pieces = {p(1, false), p(7, true), p(8, true), p(9, true), p(10, false), p(13, true), p(15, false),
            p(16, false), p(2, false)};
        assertEquals("the black deaths (1347-", TEXT.text(pieces, 1, 7));
        assertEquals("deaths", TEXT.text(pieces, 3, 4));
    }

    @Test
    void theSpansFirstPieceNeverGetsASpaceNorAContinuationItsMarks() {
        short[] pieces = {p(1, false), p(12, true), p(11, false), p(2, false)};
        assertEquals("rome", TEXT.text(pieces, 1, 1), "a chunk start as the first piece");
        assertEquals("tra", TEXT.text(pieces, 2, 2), "a continuation as the first piece");
    }

    @Test
    void readsTheVocabularyOfATokenizerJson() throws IOException {
        String json = """
                { "model": { "type": "WordPiece", "continuing_subword_prefix": "##",
                             "vocab": { "[PAD]": 0, "oxygen": 2, "##ate": 1 } } }""";
        PieceText text = PieceText.read(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
        assertEquals(3, text.size());
        assertEquals("oxygenate oxygen", text.text(new short[] {p(2, true), p(1, false), p(2, true)}, 0, 2));
        assertThrows(IOException.class, () -> PieceText.read(new ByteArrayInputStream(
                "{\"model\": {}}".getBytes(StandardCharsets.UTF_8))));
    }
}
