package io.cmtstream.model;

import java.util.Objects;

/**
 * A document's memory as contract {@code cmt-model/4} stores it: the backbone's states after its memory layer for
 * every real token ({@code [CLS]} .. {@code [SEP]}), int8 with one float scale per token, and the tokens' pieces
 * ({@link Pieces}), which the reader copies its answer from (the reader network never reads them).
 *
 * <p>Quantisation is the trainer's (training/late_extract.py {@code quantize_tokens}): per token,
 * {@code scale = max(max_j |x_j|, 1e-8) / 127} and {@code q = rint(x / scale)} clamped to [-127, 127], rounding
 * half to even as {@code torch.round} does; de-quantised, a state is {@code q * scale}.
 *
 * <p>Immutable by convention (the arrays are not copied; nobody writes them after construction).
 *
 * @param states row-major {@code [T, hidden]} int8 values
 * @param scales one scale per token, {@code T}
 * @param pieces one piece per token, {@code T}
 */
public record MemoryStates(byte[] states, float[] scales, short[] pieces) {

    /** No memory: a question's encoding, or a retrieval-only model's. */
    public static final MemoryStates NONE = new MemoryStates(new byte[0], new float[0], new short[0]);

    public MemoryStates {
        Objects.requireNonNull(states, "states");
        Objects.requireNonNull(scales, "scales");
        Objects.requireNonNull(pieces, "pieces");
        if (pieces.length != scales.length || (scales.length == 0 ? states.length != 0
                : states.length % scales.length != 0)) {
            throw new IllegalArgumentException("a memory of " + scales.length + " scales has " + states.length
                    + " state values and " + pieces.length + " pieces");
        }
    }

    /** T, the tokens the memory holds. */
    public int tokens() {
        return scales.length;
    }

    /**
     * Quantises {@code tokens} rows of {@code hidden} floats of {@code rows}, starting at row {@code fromRow}.
     *
     * @param pieces the tokens' pieces, {@code tokens} of them (kept, not copied)
     */
    public static MemoryStates quantize(float[] rows, int fromRow, int tokens, int hidden, short[] pieces) {
        byte[] q = new byte[tokens * hidden];
        float[] scales = new float[tokens];
        for (int t = 0; t < tokens; t++) {
            int from = (fromRow + t) * hidden;
            float max = 0f;
            for (int i = 0; i < hidden; i++) {
                max = Math.max(max, Math.abs(rows[from + i]));
            }
            float scale = Math.max(max, 1e-8f) / 127f;
            scales[t] = scale;
            for (int i = 0; i < hidden; i++) {
                double v = Math.rint(rows[from + i] / scale);
                q[t * hidden + i] = (byte) Math.max(-127, Math.min(127, v));
            }
        }
        return new MemoryStates(q, scales, pieces);
    }

    /** The de-quantised states, row-major {@code [T, hidden]}. */
    public float[] dequantize() {
        float[] out = new float[states.length];
        int hidden = scales.length == 0 ? 0 : states.length / scales.length;
        for (int t = 0; t < scales.length; t++) {
            float scale = scales[t];
            for (int i = 0; i < hidden; i++) {
                out[t * hidden + i] = states[t * hidden + i] * scale;
            }
        }
        return out;
    }

    /** Bytes of payload: the int8 states, the scales and the pieces. */
    public int bytes() {
        return states.length + scales.length * Float.BYTES + pieces.length * Short.BYTES;
    }
}
