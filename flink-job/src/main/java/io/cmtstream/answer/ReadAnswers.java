package io.cmtstream.answer;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.compress.ModelAsyncFunction;
import io.cmtstream.compress.ModelCallGuard;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/** Flink adapter: retrieved contexts in, Answers out, through the shared model runtime. */
public class ReadAnswers extends ModelAsyncFunction<RetrievedContext, Answer> {
    private transient Reader reader;
    private transient Histogram answerLatencyMillis;

    public ReadAnswers(ModelSpec spec, ModelCallGuard.Settings faults, String queriesTopic) {
        super(spec, faults, queriesTopic);
    }

    @Override
    protected void opened(ModelRuntime runtime) {
        reader = new Reader(runtime.info(), runtime::answer);
        answerLatencyMillis = getRuntimeContext().getMetricGroup()
                .histogram("answerLatencyMs", new DescriptiveStatisticsHistogram(1000));
    }

    @Override
    protected ModelRuntime.BatchStats batcher(ModelRuntime.Stats stats) {
        return stats.answers();
    }

    @Override
    protected String metricPrefix() {
        return "read";
    }

    @Override
    protected CompletableFuture<Answer> call(RetrievedContext context) {
        return reader.read(context).thenApply(answer -> {
            answerLatencyMillis.update(answer.getAnsweredAt().toEpochMilli() - answer.getAskedAt().toEpochMilli());
            return answer;
        });
    }

    @Override
    protected String recordKind() {
        return "query";
    }

    @Override
    protected String deadLetterKey(RetrievedContext context) {
        return context.query.tenant + "/" + context.query.queryId;
    }

    /** The query as it was asked (its topK resolved to the one used), rebuilt from what the job kept of it. */
    @Override
    protected byte[] payload(RetrievedContext context) {
        EncodedQuery q = context.query;
        return AvroBytes.encode(Query.newBuilder()
                .setTenant(q.tenant)
                .setId(q.queryId)
                .setQuestion(q.question)
                .setAskedAt(Instant.ofEpochMilli(q.askedAt))
                .setTopK(q.topK)
                .setRestrictTo(q.restrictTo == null ? null : Arrays.asList(q.restrictTo))
                .setReadOrder(q.readInListedOrder ? ReadOrder.LISTED : null)
                .build());
    }
}
