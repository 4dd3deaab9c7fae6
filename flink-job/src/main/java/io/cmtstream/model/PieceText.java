package io.cmtstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.Map;

/**
 * Turns a span of a memory's pieces back into text, as the trainer does (training/late_reader.py
 * {@code span_text}): a piece with the continuation prefix ({@code ##}) is appended without it; any other piece
 * is appended with a leading space when it is not the span's first and starts a chunk of the text
 * ({@link Pieces#startsChunk(short)}), else directly. So {@code 94.0%}, four pieces of one chunk, reads back as
 * {@code 94.0%}. Nothing else is cleaned up. The text is the tokenizer's (lower-cased, accents stripped).
 *
 * <p>Immutable and thread-safe.
 */
final class PieceText {

    private final String[] vocabulary;
    private final String continuation;

    PieceText(String[] vocabulary, String continuation) {
        this.vocabulary = vocabulary;
        this.continuation = continuation;
    }

    /** The WordPiece vocabulary and continuation prefix of a Hugging Face {@code tokenizer.json}. */
    static PieceText read(InputStream tokenizerJson) throws IOException {
        JsonNode model = new ObjectMapper().readTree(tokenizerJson).path("model");
        JsonNode vocab = model.path("vocab");
        if (!vocab.isObject() || vocab.isEmpty()) {
            throw new IOException("tokenizer.json has no model.vocab");
        }
        String[] pieces = new String[vocab.size()];
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            int id = entry.getValue().asInt(-1);
            if (id < 0 || id >= pieces.length) {
                throw new IOException("tokenizer.json: vocabulary id " + entry.getValue() + " of '" + entry.getKey()
                        + "' is outside 0.." + (pieces.length - 1));
            }
            pieces[id] = entry.getKey();
        }
        return new PieceText(pieces, model.path("continuing_subword_prefix").asText("##"));
    }

    /** The vocabulary's size. */
    int size() {
        return vocabulary.length;
    }

    /** The text of {@code pieces[start..end]} (inclusive). */
    String text(short[] pieces, int start, int end) {
        StringBuilder out = new StringBuilder();
        for (int i = start; i <= end; i++) {
            int id = Pieces.id(pieces[i]);
            String piece = id < vocabulary.length && vocabulary[id] != null ? vocabulary[id] : "[UNK]";
            if (piece.startsWith(continuation)) {
                out.append(piece, continuation.length(), piece.length());
            } else {
                if (i > start && Pieces.startsChunk(pieces[i])) {
                    out.append(' ');
                }
                out.append(piece);
            }
        }
        return out.toString();
    }
}
