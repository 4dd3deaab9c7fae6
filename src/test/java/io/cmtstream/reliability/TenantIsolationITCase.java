package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static io.cmtstream.reliability.ReliabilityCluster.document;
import static io.cmtstream.reliability.ReliabilityCluster.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nothing leaked: 20 tenants each publish the same 10 texts under their own ids, interleaved, while every tenant
 * asks questions. Identical texts give identical keys and identical scores, so a query that could see another
 * tenant's memories would list them; every answer's evidence must be exactly the asking tenant's own documents.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TenantIsolationITCase {
    private static final int TENANTS = 20;
    private static final int DOCS = 10;
    private static final String[] TEXTS = {
            "The lighthouse keeper lit the lamp every evening at dusk.",
            "Copper conducts electricity better than iron does.",
            "The treaty was signed in the spring after a long winter of talks.",
            "Honey bees communicate the direction of flowers by dancing.",
            "The bridge was closed for repairs after the flood.",
            "A violin has four strings tuned in perfect fifths.",
            "Glaciers carve U-shaped valleys as they move downhill.",
            "The library lends books, maps and old newspapers.",
            "Tea was first brought to Europe by Dutch traders.",
            "The marathon commemorates the run of a Greek messenger."};
    private static final String[] QUESTIONS = {"Who lit the lamp?", "What do bees do?", "How many strings?"};

    private ReliabilityCluster cluster;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2);
        cluster.submit(Map.of("cmt.memory.shards", "4", "cmt.query.max-top-k", "64"), 2, null);
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void queriesOfManyTenantsOnlyEverSeeTheirOwnIdenticalDocuments() {
        List<String> tenants = new ArrayList<>();
        for (int t = 0; t < TENANTS; t++) {
            tenants.add(String.format("tenant-%02d", t));
        }
        Map<String, Set<String>> seenByMidQuery = new HashMap<>();
        List<String> keys = new ArrayList<>();
        for (int d = 0; d < DOCS; d++) {
            for (String tenant : tenants) {
                cluster.publish(document(tenant, tenant + "-doc-" + d, TEXTS[d]));
            }
            if (d == DOCS / 2) {
                // Mid-stream: each tenant asks while the others' documents keep arriving.
                for (String tenant : tenants) {
                    cluster.publish(query(tenant, "mid", QUESTIONS[0], 2 * DOCS));
                    keys.add(ReliabilityCluster.Answers.key(tenant, "mid"));
                    Set<String> before = new TreeSet<>();
                    for (int e = 0; e <= d; e++) {
                        before.add(tenant + "-doc-" + e);
                    }
                    seenByMidQuery.put(tenant, before);
                }
            }
        }
        for (int q = 0; q < QUESTIONS.length; q++) {
            for (String tenant : tenants) {
                // topK of twice a tenant's bank: room for any foreign memory to show up.
                cluster.publish(query(tenant, "q" + q, QUESTIONS[q], 2 * DOCS));
                keys.add(ReliabilityCluster.Answers.key(tenant, "q" + q));
            }
        }

        int evidenceChecked = 0;
        try (ReliabilityCluster.Answers answers = cluster.answers()) {
            Map<String, Answer> got = answers.await(keys);
            answers.drain(Duration.ofSeconds(1));
            assertEquals(keys.size(), answers.byQuery.size());
            Map<String, Float> topScore = new HashMap<>();
            for (String tenant : tenants) {
                Set<String> own = new TreeSet<>();
                for (int d = 0; d < DOCS; d++) {
                    own.add(tenant + "-doc-" + d);
                }
                for (int q = 0; q < QUESTIONS.length; q++) {
                    Answer a = got.get(ReliabilityCluster.Answers.key(tenant, "q" + q));
                    assertEquals(tenant, a.getTenant());
                    Set<String> ids = ids(a);
                    evidenceChecked += a.getEvidence().size();
                    assertEquals(own, ids, tenant + " q" + q + " evidence");
                    assertEquals(DOCS, a.getEvidence().size(), tenant + " q" + q + ": each memory once");
                    // Same texts, same question: the best score is the same for every tenant.
                    float best = a.getEvidence().get(0).getScore();
                    Float first = topScore.putIfAbsent("q" + q, best);
                    if (first != null) {
                        assertEquals(first, best, 1e-4, tenant + " q" + q + " top score");
                    }
                }
                Answer mid = got.get(ReliabilityCluster.Answers.key(tenant, "mid"));
                Set<String> ids = ids(mid);
                evidenceChecked += mid.getEvidence().size();
                assertTrue(own.containsAll(ids), tenant + " mid-stream query saw " + ids);
                assertTrue(ids.containsAll(seenByMidQuery.get(tenant)),
                        tenant + " mid-stream query missed documents published before it: " + ids);
            }
        }
        System.out.printf("ISOLATION: tenants %d, documents %d, queries %d, evidence entries checked %d, "
                + "foreign evidence 0%n", TENANTS, TENANTS * DOCS, keys.size(), evidenceChecked);
    }

    private static Set<String> ids(Answer a) {
        return a.getEvidence().stream().map(Evidence::getDocId).collect(Collectors.toCollection(TreeSet::new));
    }
}
