package io.cmtstream.ingest;

import io.cmtstream.avro.Query;

/**
 * The rules that admit a query, once, before it is encoded and fanned out to its tenant's shards: a query refused
 * here reaches no shard, and one admitted here is never refused later, so no query is half-answered and two
 * queries with one id never meet in a shard or in the merge. No Flink imports; {@link TenantBacklog} and
 * {@link QueryIdGuard} are the operators.
 *
 * <p>Time is the document watermark (what a shard waits for before it matches a query): a query is pending from
 * its admission until the watermark passes its askedAt.
 */
public final class QueryAdmission {
    private QueryAdmission() {}

    /** Default of {@code cmt.query.id-retention}. */
    public static final long DEFAULT_ID_RETENTION_MILLIS = 3_600_000L;

    /** Default of {@code cmt.query.max-pending}. */
    public static final int DEFAULT_MAX_PENDING = 10_000;

    /** Keys the queries stream by tenant for {@link TenantBacklog}; dead letters spread by their offset. */
    public static String tenantKey(Ingested<Query> in) {
        return in.isValid() ? in.value.getTenant() : deadLetterKey(in);
    }

    /** Keys the queries stream by (tenant, query id) for {@link QueryIdGuard}; dead letters spread by offset. */
    public static String queryKey(Ingested<Query> in) {
        return in.isValid() ? in.value.getTenant() + "/" + in.value.getId() : deadLetterKey(in);
    }

    /** Tenants match {@link IngestLimits#TENANT}, which cannot start with '#', so this never meets a tenant's key. */
    private static String deadLetterKey(Ingested<?> in) {
        return "#" + in.deadLetter.getPartition() + "/" + in.deadLetter.getOffset();
    }

    /** Whether a query asked at {@code askedAt} waits in the shards: the watermark has not passed it yet. */
    public static boolean waits(long askedAt, long watermark) {
        return askedAt > watermark;
    }

    /** Whether a tenant with {@code pending} waiting queries may have one more. */
    public static boolean hasRoom(int pending, int maxPending) {
        return pending < maxPending;
    }

    /**
     * Until when (in watermark time) a query id is remembered: {@code retention} after the later of its askedAt
     * and the watermark at admission (a query asked long ago is answered now, not at its askedAt), saturating
     * instead of overflowing for hostile times.
     */
    public static long forgetAt(long askedAt, long watermark, long retentionMillis) {
        return RecordChecks.saturatedAdd(Math.max(askedAt, watermark), Math.max(1, retentionMillis));
    }
}
