package io.cmtstream.memory;

/**
 * When a document's versions that are no longer in the bank were current: from {@code since} (the first of them
 * published) until {@code until} (the upsert or delete that ended the last of them). A Flink POJO.
 */
public class VersionWindow {
    public long since;
    public long until;

    public VersionWindow() {}

    public VersionWindow(long since, long until) {
        this.since = since;
        this.until = until;
    }

    /** Whether a query asked at {@code askedAt} would have read a version the bank no longer has. */
    boolean covers(long askedAt) {
        return since <= askedAt && askedAt < until;
    }
}
