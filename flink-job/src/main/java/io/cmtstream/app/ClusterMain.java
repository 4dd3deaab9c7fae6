package io.cmtstream.app;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point on a Flink cluster (the job jar's main class): connects to an existing Kafka and runs until
 * cancelled. Configuration: {@code --config cmt-stream.properties} and/or {@code --cmt.key value} flags.
 */
public final class ClusterMain {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterMain.class);

    private ClusterMain() {}

    public static void main(String[] args) throws Exception {
        Configuration conf = JobConfig.fromArgs(args);
        StartupChecks.modelLoads(conf);
        StartupChecks.kafkaTransactionsFit(conf);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        CmtStreamJob.build(env, conf);
        LOG.info("Submitting {} reading {} and {} from {}", conf.get(CmtStreamOptions.JOB_NAME),
                conf.get(CmtStreamOptions.DOCUMENTS_TOPIC), conf.get(CmtStreamOptions.QUERIES_TOPIC),
                conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
        env.execute(conf.get(CmtStreamOptions.JOB_NAME));
    }
}
