package io.cmtstream.model;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LengthBucketsTest {

    @Test
    void equalLengthsStayOneBatch() {
        List<int[]> groups = LengthBuckets.of(new int[] {50, 50, 50}, 0.1);
        assertEquals(1, groups.size());
        assertArrayEquals(new int[] {0, 1, 2}, groups.get(0));
    }

    @Test
    void farApartLengthsAreSplitAndEveryIndexAppearsOnce() {
        int[] lengths = {256, 60, 250, 64, 120};
        List<int[]> groups = LengthBuckets.of(lengths, 0.1);
        int[] all = groups.stream().flatMapToInt(Arrays::stream).sorted().toArray();
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, all);
        for (int[] g : groups) {
            long real = Arrays.stream(g).mapToLong(i -> lengths[i]).sum();
            long padded = (long) Arrays.stream(g).map(i -> lengths[i]).max().orElseThrow() * g.length;
            assertTrue(padded - real <= 0.1 * padded, "group " + Arrays.toString(g) + " wastes too much");
        }
        assertEquals(3, groups.size(), "60/64, 120, 250/256");
    }

    @Test
    void zeroShareGroupsOnlyEqualLengths() {
        assertEquals(3, LengthBuckets.of(new int[] {3, 4, 3, 5}, 0.0).size());
        assertTrue(LengthBuckets.of(new int[0], 0.0).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> LengthBuckets.of(new int[] {1}, 1.0));
    }
}
