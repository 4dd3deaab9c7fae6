package io.cmtstream.ingest;

import java.io.Serializable;

/** Epoch milliseconds, shippable with the job graph; tests pass a fixed one. */
@FunctionalInterface
public interface WallClock extends Serializable {
    WallClock SYSTEM = System::currentTimeMillis;

    long millis();
}
