package io.cmtstream.eval;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.avro.Evidence;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class GoldBehindOthersTest {

    private static Answer withEvidence(String... ids) {
        return Answer.newBuilder().setTenant("t").setQueryId("recall/q").setAnswer("").setStatus(AnswerStatus.ANSWERED)
                .setEvidence(java.util.Arrays.stream(ids).map(id -> new Evidence(id, 1f)).toList())
                .setAskedAt(Instant.EPOCH).setAnsweredAt(Instant.EPOCH).setTimings(Map.of()).setModelVersion("m")
                .build();
    }

    @Test
    void goldComesLastAfterTheTwoBestOtherMemories() {
        assertEquals(List.of("a", "b", "gold"),
                StreamingEvaluation.goldBehindOthers(withEvidence("a", "gold", "b", "c"), "gold"));
    }

    @Test
    void goldMissingFromTheEvidenceIsStillAdded() {
        assertEquals(List.of("a", "b", "gold"),
                StreamingEvaluation.goldBehindOthers(withEvidence("a", "b", "c"), "gold"));
    }
}
