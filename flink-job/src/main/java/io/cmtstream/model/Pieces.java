package io.cmtstream.model;

/**
 * A memory's copy targets: one {@code short} per token, the WordPiece id with {@link #STARTS_CHUNK} set when the
 * token begins a whitespace-separated chunk of the text, which is where an answer read from the memory puts a
 * space ({@link PieceText}).
 *
 * <p>The flag follows the trainer's definition (training/late_extract.py {@code encode_with_spaces}): a token
 * starts a chunk when, in the text as the tokenizer normalises it, the character before it is whitespace or
 * there is none. On the original text (where the tokenizer's offsets point) that means: looking back from the
 * token's first character over the characters the normaliser deletes (controls, U+FFFD, lone combining marks),
 * the first one left is whitespace, or a CJK ideograph (the normaliser puts spaces around those), or there is
 * none; a CJK ideograph always starts its own chunk.
 *
 * <p>Stateless and thread-safe.
 */
public final class Pieces {

    /** The flag bit: the token starts a chunk. WordPiece ids stay below it (the vocabulary has 30,522). */
    public static final int STARTS_CHUNK = 0x8000;

    /** The trainer's whitespace (training/wordpiece.py {@code _WS}): what the normaliser turns into a space. */
    private static final String WHITESPACE = "\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000";

    private Pieces() {}

    /** The piece of token {@code id}. */
    public static short of(long id, boolean startsChunk) {
        if (id < 0 || id >= STARTS_CHUNK) {
            throw new IllegalArgumentException("token id " + id + " does not fit a piece");
        }
        return (short) (id | (startsChunk ? STARTS_CHUNK : 0));
    }

    /** The WordPiece id of a piece. */
    public static int id(short piece) {
        return piece & (STARTS_CHUNK - 1);
    }

    /** Whether a piece starts a whitespace-separated chunk. */
    public static boolean startsChunk(short piece) {
        return (piece & STARTS_CHUNK) != 0;
    }

    /**
     * Whether the token whose first character is at UTF-16 index {@code start} of {@code text} starts a chunk.
     */
    static boolean startsChunk(String text, int start) {
        if (start < text.length() && isCjk(text.codePointAt(start))) {
            return true;
        }
        int i = start;
        while (i > 0) {
            int c = text.codePointBefore(i);
            if (isWhitespace(c) || isCjk(c)) {
                return true;
            }
            if (!deletedByNormaliser(c)) {
                return false;
            }
            i -= Character.charCount(c);
        }
        return true;
    }

    static boolean isWhitespace(int c) {
        return (c >= 0x2000 && c < 0x200b) || (c < 0x10000 && WHITESPACE.indexOf(c) >= 0);
    }

    /** training/wordpiece.py {@code normalize}: NUL, U+FFFD and controls go; so do combining marks after NFD. */
    private static boolean deletedByNormaliser(int c) {
        if (c == '\t' || c == '\n' || c == '\r') {
            return false;
        }
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE,
                 Character.SURROGATE, Character.NON_SPACING_MARK -> true;
            default -> c == 0 || c == 0xfffd;
        };
    }

    private static boolean isCjk(int o) {
        return (o >= 0x4E00 && o <= 0x9FFF) || (o >= 0x3400 && o <= 0x4DBF) || (o >= 0x20000 && o <= 0x2A6DF)
                || (o >= 0x2A700 && o <= 0x2B73F) || (o >= 0x2B740 && o <= 0x2B81F) || (o >= 0x2B820 && o <= 0x2CEAF)
                || (o >= 0xF900 && o <= 0xFAFF) || (o >= 0x2F800 && o <= 0x2FA1F);
    }
}
