package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class VersionWindowsTest {
    @Test
    void aQueryAskedWhileAnEndedVersionWasCurrentNamesItsDocumentAndNoOther() throws Exception {
        VersionWindows w = VersionWindows.load(new MemoryBankTest.MapStore<VersionWindow>());
        w.ended("a", 10, 300);   // a's versions from 10 were replaced at 300
        w.ended("b", 20, 400);   // b deleted at 400
        assertEquals(List.of(), w.changedAfter(5, 10), "asked before either existed");
        assertEquals(List.of("a"), w.changedAfter(15, 10));
        assertEquals(List.of("a", "b"), w.changedAfter(100, 10));
        assertEquals(List.of("b"), w.changedAfter(300, 10), "a's new version was already current at 300");
        assertEquals(List.of(), w.changedAfter(400, 10));
        assertEquals(List.of("a"), w.changedAfter(100, 1), "at most the limit, in name order");
    }

    @Test
    void windowsOfOneDocumentMergeIntoTheirHullAndAnOutOfOrderUpsertEndsNothing() throws Exception {
        VersionWindows w = VersionWindows.load(new MemoryBankTest.MapStore<VersionWindow>());
        w.ended("a", 10, 50);    // deleted at 50
        w.ended("a", 80, 120);   // re-created at 80, replaced at 120
        w.ended("b", 200, 150);  // an upsert published before the version it replaced
        assertEquals(1, w.size());
        assertEquals(List.of("a"), w.changedAfter(60, 10), "the gap is named too: never missed");
        assertEquals(List.of(), w.changedAfter(120, 10));
    }

    @Test
    void pruningDropsWindowsEndedBeforeTheHorizonFromHeapAndStoreAndALoadRestoresTheRest() throws Exception {
        MemoryBankTest.MapStore<VersionWindow> store = new MemoryBankTest.MapStore<>();
        VersionWindows w = VersionWindows.load(store);
        w.ended("old", 10, 100);
        w.ended("new", 10, 1_000);
        assertEquals(1, w.prune(500));
        assertEquals(List.of("new"), w.changedAfter(50, 10));
        assertEquals(List.of("new"), List.copyOf(store.map.keySet()));

        VersionWindows restored = VersionWindows.load(store);
        assertEquals(List.of("new"), restored.changedAfter(50, 10));
        assertEquals(0, restored.prune(1_000), "a window ending at the horizon is kept");
        assertEquals(1, restored.prune(1_001));
    }
}
