package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Float16Test {

    @Test
    void everyHalfSurvivesARoundTripThroughFloat() {
        for (int bits = 0; bits <= 0xffff; bits++) {
            short half = (short) bits;
            float f = Float16.toFloat(half);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Float16.toFloat(Float16.fromFloat(f))), "NaN " + Integer.toHexString(bits));
            } else {
                assertEquals(half, Float16.fromFloat(f), "half 0x" + Integer.toHexString(bits));
            }
        }
    }

    @Test
    void decodesKnownValues() {
        assertEquals(1.0f, Float16.toFloat((short) 0x3c00));
        assertEquals(-2.0f, Float16.toFloat((short) 0xc000));
        assertEquals(65504f, Float16.toFloat((short) 0x7bff));
        assertEquals(0x1p-14f, Float16.toFloat((short) 0x0400));
        assertEquals(0x1p-24f, Float16.toFloat((short) 0x0001));
        assertEquals(Float.POSITIVE_INFINITY, Float16.toFloat((short) 0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, Float16.toFloat((short) 0xfc00));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Float16.toFloat((short) 0x8000)));
    }

    @Test
    void roundsToNearestAndTiesToEven() {
        float ulpAtOne = 0x1p-10f;
        // Exactly halfway between 1 and 1 + ulp: the even neighbour is 1.
        assertEquals((short) 0x3c00, Float16.fromFloat(1f + ulpAtOne / 2));
        // Halfway between 1 + ulp (odd) and 1 + 2 ulp (even): up to the even one.
        assertEquals((short) 0x3c02, Float16.fromFloat(1f + 1.5f * ulpAtOne));
        // Just above halfway rounds up, just below rounds down.
        assertEquals((short) 0x3c01, Float16.fromFloat(Math.nextUp(1f + ulpAtOne / 2)));
        assertEquals((short) 0x3c00, Float16.fromFloat(Math.nextDown(1f + ulpAtOne / 2)));
        // A carry out of the mantissa moves to the next binade.
        assertEquals((short) 0x4000, Float16.fromFloat(Math.nextDown(2f)));
    }

    @Test
    void randomFloatsBecomeTheirNearestHalf() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(random.nextInt());
            if (Float.isNaN(f) || Math.abs(f) > 65504f || Float.isInfinite(f)) {
                continue;
            }
            short h = Float16.fromFloat(f);
            double error = Math.abs((double) Float16.toFloat(h) - f);
            for (int neighbour : new int[] {h - 1, h + 1}) {
                float other = Float16.toFloat((short) neighbour);
                if (Float.isNaN(other) || Float.isInfinite(other) || Math.signum(other) * Math.signum(f) < 0) {
                    continue;
                }
                double otherError = Math.abs((double) other - f);
                assertTrue(error < otherError || (error == otherError && (h & 1) == 0),
                        f + " became " + Float16.toFloat(h) + " but " + other + " is nearer or even");
            }
        }
    }

    @Test
    void tooLargeBecomesInfinityWithItsSign() {
        assertEquals((short) 0x7bff, Float16.fromFloat(65504f));
        assertEquals((short) 0x7bff, Float16.fromFloat(65519.99f));
        assertEquals((short) 0x7c00, Float16.fromFloat(65520f));
        assertEquals((short) 0xfc00, Float16.fromFloat(-1e6f));
        assertEquals((short) 0x7c00, Float16.fromFloat(Float.MAX_VALUE));
        assertEquals((short) 0x7c00, Float16.fromFloat(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xfc00, Float16.fromFloat(Float.NEGATIVE_INFINITY));
    }

    @Test
    void tinyValuesBecomeSubnormalsOrSignedZero() {
        assertEquals((short) 0x0001, Float16.fromFloat(0x1p-24f));
        assertEquals((short) 0x0000, Float16.fromFloat(0x1p-25f));
        assertEquals((short) 0x0001, Float16.fromFloat(Math.nextUp(0x1p-25f)));
        // Ties between subnormals go to the even one too.
        assertEquals((short) 0x0002, Float16.fromFloat(0x1.4p-23f));
        assertEquals((short) 0x0004, Float16.fromFloat(0x1.cp-23f));
        assertEquals((short) 0x03ff, Float16.fromFloat(0x3ffp-24f));
        assertEquals((short) 0x0400, Float16.fromFloat(Math.nextDown(0x1p-14f)));
        assertEquals((short) 0x8000, Float16.fromFloat(-1e-10f));
        assertEquals((short) 0x8000, Float16.fromFloat(-0f));
        assertEquals((short) 0x0000, Float16.fromFloat(Float.MIN_VALUE));
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(Float16.toFloat(Float16.fromFloat(Float.NaN))));
        // A NaN whose payload sits only in bits the half drops must not turn into infinity.
        float lowPayloadNan = Float.intBitsToFloat(0x7f800001);
        assertTrue(Float.isNaN(Float16.toFloat(Float16.fromFloat(lowPayloadNan))));
    }

    @Test
    void packsArraysAndLittleEndianBytes() {
        float[] values = {0f, 1f, -2f, 0.5f, 65504f, 0x1p-24f};
        assertArrayEquals(values, Float16.unpack(Float16.pack(values)));
        assertArrayEquals(values, Float16.unpackBytes(Float16.packBytes(values)));
        assertArrayEquals(new byte[] {0x00, 0x3c, 0x00, (byte) 0xc0}, Float16.packBytes(new float[] {1f, -2f}));
        assertEquals(0, Float16.pack(new float[0]).length);
    }

    @Test
    void oddByteCountIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Float16.unpackBytes(new byte[3]));
    }
}
