package io.cmtstream.model;

import java.util.Arrays;

/**
 * Token ids of a batch of texts ({@code [CLS] .. [SEP]}, truncated), with their pieces ({@link Pieces}) and what
 * was lost to truncation; rows are padded to {@code maxLength} only when laid out for a model call.
 *
 * @param ids each text's ids
 * @param pieces each text's pieces, one per id
 * @param maxLength the longest row
 * @param tokenCounts each text's token count before truncation, specials not counted
 * @param truncated whether each text was cut
 */
record Tokenized(long[][] ids, short[][] pieces, int maxLength, int[] tokenCounts, boolean[] truncated) {

    int batch() {
        return ids.length;
    }

    /** Row {@code b}'s length. */
    int length(int b) {
        return ids[b].length;
    }

    /** Every row's ids, row-major {@code [B, maxLength]}, {@code pad} past each row's end. */
    long[] paddedIds(long pad) {
        long[] flat = new long[batch() * maxLength];
        Arrays.fill(flat, pad);
        for (int b = 0; b < batch(); b++) {
            System.arraycopy(ids[b], 0, flat, b * maxLength, ids[b].length);
        }
        return flat;
    }

    /** Row-major {@code [B, maxLength]}: 1 for each row's tokens, 0 past its end. */
    float[] mask() {
        float[] mask = new float[batch() * maxLength];
        for (int b = 0; b < batch(); b++) {
            Arrays.fill(mask, b * maxLength, b * maxLength + ids[b].length, 1f);
        }
        return mask;
    }

    /** The rows at {@code rows}, padded to their own longest. */
    Tokenized select(int[] rows) {
        long[][] someIds = new long[rows.length][];
        short[][] somePieces = new short[rows.length][];
        int[] counts = new int[rows.length];
        boolean[] cut = new boolean[rows.length];
        int longest = 0;
        for (int i = 0; i < rows.length; i++) {
            someIds[i] = ids[rows[i]];
            somePieces[i] = pieces[rows[i]];
            counts[i] = tokenCounts[rows[i]];
            cut[i] = truncated[rows[i]];
            longest = Math.max(longest, someIds[i].length);
        }
        return new Tokenized(someIds, somePieces, longest, counts, cut);
    }
}
