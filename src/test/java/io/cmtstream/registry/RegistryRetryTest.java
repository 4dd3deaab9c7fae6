package io.cmtstream.registry;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryRetryTest {
    @Test
    void retriesWithDoublingBackoffUpToItsCapUntilTheRegistryAnswers() {
        List<Long> sleeps = new ArrayList<>();
        RegistryRetry retry = new RegistryRetry(1_000, sleeps::add);
        int[] calls = {0};
        String result = retry.untilAvailable("test", () -> {
            if (++calls[0] <= 6) {
                throw new RegistryUnavailableException("down");
            }
            return "up";
        });
        assertEquals("up", result);
        assertEquals(List.of(100L, 200L, 400L, 800L, 1000L, 1000L), sleeps);
    }

    @Test
    void otherExceptionsAreNotRetried() {
        RegistryRetry retry = new RegistryRetry(1_000, millis -> { throw new AssertionError("no wait expected"); });
        assertThrows(IllegalStateException.class, () -> retry.untilAvailable("test", () -> {
            throw new IllegalStateException("not the registry's state");
        }));
    }

    @Test
    void anInterruptEndsTheWaitWithUnavailable() {
        RegistryRetry retry = new RegistryRetry(1_000, millis -> { throw new InterruptedException(); });
        try {
            assertThrows(RegistryUnavailableException.class, () -> retry.untilAvailable("test", () -> {
                throw new RegistryUnavailableException("down");
            }));
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept for the task");
        } finally {
            Thread.interrupted();
        }
    }
}
