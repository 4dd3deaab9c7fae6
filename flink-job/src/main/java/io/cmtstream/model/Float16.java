package io.cmtstream.model;

/**
 * IEEE 754 binary16 ("half") conversion, for storing memory tokens at half the bytes of float32.
 *
 * <p>Java 17 has no {@code Float.floatToFloat16}; this is the same conversion: round to nearest, ties to even;
 * values too large for half become infinity, values too small become (signed) zero or a subnormal; NaN stays NaN
 * (quiet, with the top payload bits kept). Byte arrays are little-endian, the layout of numpy's and PyTorch's
 * {@code float16} buffers on x86 and ARM.
 *
 * <p>Stateless and thread-safe.
 */
public final class Float16 {

    /** Bytes per half value. */
    public static final int BYTES = 2;

    private static final int SIGN_MASK = 0x8000;
    private static final int EXP_MASK = 0x7c00;
    private static final int QUIET_NAN_BIT = 0x0200;

    private Float16() {}

    /** The half nearest to {@code value} (ties to even), as its 16 bits. */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & SIGN_MASK;
        int exp = (bits >>> 23) & 0xff;
        int mantissa = bits & 0x7fffff;

        if (exp == 0xff) {
            if (mantissa == 0) {
                return (short) (sign | EXP_MASK);
            }
            // A NaN whose payload lives only in the low 13 bits would otherwise turn into infinity.
            return (short) (sign | EXP_MASK | QUIET_NAN_BIT | (mantissa >>> 13));
        }

        int halfExp = exp - 127 + 15;
        if (halfExp >= 0x1f) {
            return (short) (sign | EXP_MASK);
        }
        if (halfExp <= 0) {
            // Below 2^-25 even the smallest subnormal (2^-24) is more than twice as far away as zero.
            if (halfExp < -10) {
                return (short) sign;
            }
            int full = mantissa | 0x800000;
            int shift = 14 - halfExp;
            int half = roundShiftRightEven(full, shift);
            // A carry into bit 10 correctly yields the smallest normal number.
            return (short) (sign | half);
        }
        int half = (halfExp << 10) + roundShiftRightEven(mantissa, 13);
        // A carry out of the mantissa bumps the exponent; out of the largest exponent it yields infinity (0x7c00).
        return (short) (sign | half);
    }

    /** The float exactly equal to the half given by its 16 bits. */
    public static float toFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & SIGN_MASK) << 16;
        int exp = (h & EXP_MASK) >>> 10;
        int mantissa = h & 0x03ff;
        if (exp == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mantissa << 13));
    }

    /** Halves of all values, in order. */
    public static short[] pack(float[] values) {
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = fromFloat(values[i]);
        }
        return out;
    }

    /** Floats of all halves, in order. */
    public static float[] unpack(short[] halves) {
        float[] out = new float[halves.length];
        for (int i = 0; i < halves.length; i++) {
            out[i] = toFloat(halves[i]);
        }
        return out;
    }

    /** Halves of all values as little-endian bytes ({@code 2 * values.length} of them). */
    public static byte[] packBytes(float[] values) {
        byte[] out = new byte[values.length * BYTES];
        for (int i = 0; i < values.length; i++) {
            short h = fromFloat(values[i]);
            out[2 * i] = (byte) h;
            out[2 * i + 1] = (byte) (h >>> 8);
        }
        return out;
    }

    /**
     * Floats of little-endian half bytes.
     *
     * @throws IllegalArgumentException if the length is odd
     */
    public static float[] unpackBytes(byte[] bytes) {
        if (bytes.length % BYTES != 0) {
            throw new IllegalArgumentException("float16 bytes must come in pairs, got " + bytes.length);
        }
        float[] out = new float[bytes.length / BYTES];
        for (int i = 0; i < out.length; i++) {
            out[i] = toFloat((short) ((bytes[2 * i] & 0xff) | (bytes[2 * i + 1] << 8)));
        }
        return out;
    }

    private static int roundShiftRightEven(int value, int shift) {
        int kept = value >>> shift;
        int rest = value & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (kept & 1) == 1)) {
            kept++;
        }
        return kept;
    }
}
