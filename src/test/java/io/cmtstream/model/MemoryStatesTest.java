package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MemoryStatesTest {

    @Test
    void quantisesEachTokenWithItsOwnScale() {
        // two tokens of 3: scale = max |x| / 127 per token
        float[] rows = {127f, -63.5f, 0.5f, 2.54f, 1f, -0.01f};
        short[] pieces = {Pieces.of(101, false), Pieces.of(7, true)};
        MemoryStates m = MemoryStates.quantize(rows, 0, 2, 3, pieces);
        assertArrayEquals(new float[] {1f, 0.02f}, m.scales(), 1e-7f);
        // 63.5 / 1 rounds half to even: -64 (not away from zero), 0.5 -> 0
        assertArrayEquals(new byte[] {127, -64, 0, 127, 50, 0}, m.states());
        assertArrayEquals(pieces, m.pieces());
        assertEquals(2, m.tokens());
        assertArrayEquals(new float[] {127f, -64f, 0f, 2.54f, 1f, 0f}, m.dequantize(), 1e-5f);
    }

    @Test
    void roundsHalfToEvenLikeTorchRound() {
        // scale 1: x / scale = 2.5 -> 2, 3.5 -> 4, -2.5 -> -2
        float[] rows = {127f, 2.5f, 3.5f, -2.5f};
        MemoryStates m = MemoryStates.quantize(rows, 0, 1, 4, new short[1]);
        assertArrayEquals(new byte[] {127, 2, 4, -2}, m.states());
    }

    @Test
    void startsAtTheGivenRowAndGuardsAllZeroTokens() {
        float[] rows = {9f, 9f, 0f, 0f};
        MemoryStates m = MemoryStates.quantize(rows, 1, 1, 2, new short[1]);
        assertArrayEquals(new float[] {1e-8f / 127f}, m.scales());
        assertArrayEquals(new byte[] {0, 0}, m.states());
    }

    @Test
    void inconsistentArraysAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryStates(new byte[5], new float[2], new short[2]));
        assertThrows(IllegalArgumentException.class, () -> new MemoryStates(new byte[4], new float[2], new short[1]));
        assertEquals(0, MemoryStates.NONE.tokens());
        assertEquals(4 + 2 * 4 + 2 * 2, new MemoryStates(new byte[4], new float[2], new short[2]).bytes());
    }
}
