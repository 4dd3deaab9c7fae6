package io.cmtstream.eval;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.squad.SquadDataset;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
    void onlyGoldRank3IsReadInTheOrderListed() {
        SquadDataset.Question q = new SquadDataset.Question("q1", "Who?", List.of("Tesla"), "gold");
        Query rank3 = StreamingEvaluation.query("t", "gold-rank3", q, 3, List.of("a", "b", "gold"));
        assertEquals(ReadOrder.LISTED, rank3.getReadOrder());
        assertEquals(List.of("a", "b", "gold"), rank3.getRestrictTo());
        assertEquals("gold-rank3/q1", rank3.getId());
        for (String condition : StreamingEvaluation.CONDITIONS) {
            if (!condition.equals("gold-rank3")) {
                assertNull(StreamingEvaluation.query("t", condition, q, 1, List.of("gold")).getReadOrder(), condition);
            }
        }
    }

    @Test
    void goldMissingFromTheEvidenceIsStillAdded() {
        assertEquals(List.of("a", "b", "gold"),
                StreamingEvaluation.goldBehindOthers(withEvidence("a", "b", "c"), "gold"));
    }
}
