package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BankLayoutTest {
    private static final BankLayout WRITTEN = new BankLayout(8, 128, "384x384-0123456789abcdef");

    @Test
    void theStoredFormReadsBackAndToleratesKeysItDoesNotKnow() {
        assertEquals(WRITTEN, BankLayout.decode(WRITTEN.encode()));
        assertEquals(new BankLayout(0, 0, null), BankLayout.decode(new BankLayout(0, 0, null).encode()));
        assertEquals(WRITTEN, BankLayout.decode(WRITTEN.encode() + ";addedLater=x"));
    }

    @Test
    void eachDifferenceIsRefusedNamingItsOption() {
        assertNull(WRITTEN.refusal(WRITTEN));
        String shards = new BankLayout(4, 128, WRITTEN.memorySpace()).refusal(WRITTEN);
        assertTrue(shards.startsWith("the memory bank was written with cmt.memory.shards=8 and is restored with 4"),
                shards);
        String parallelism = new BankLayout(8, 256, WRITTEN.memorySpace()).refusal(WRITTEN);
        assertTrue(parallelism.contains("pipeline.max-parallelism=128") && parallelism.contains("256"), parallelism);
        String model = new BankLayout(8, 128, "384x384-fedcba9876543210").refusal(WRITTEN);
        assertTrue(model.contains("cmt.model.dir") && model.contains("0123456789abcdef"), model);
        assertTrue(model.contains("earliest offset"), "says how to rebuild instead: " + model);
    }

    @Test
    void anUnknownValueOnEitherSideIsNotCompared() {
        BankLayout unknown = new BankLayout(0, 0, null);
        assertNull(unknown.refusal(WRITTEN));
        assertNull(WRITTEN.refusal(unknown));
        assertNull(WRITTEN.withMaxParallelism(0).refusal(WRITTEN));
    }
}
