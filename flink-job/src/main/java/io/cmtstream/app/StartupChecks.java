package io.cmtstream.app;

import io.cmtstream.model.ModelConfig;
import io.cmtstream.model.ModelLoadException;
import org.apache.flink.configuration.Configuration;

import java.nio.file.Path;

/** Checks made before a job is submitted, so a bad setup fails in seconds with a message naming its cause. */
public final class StartupChecks {
    private StartupChecks() {}

    /**
     * Reads and validates the model directory (model.json and the files it names).
     *
     * @throws ModelLoadException naming the missing or corrupt file
     */
    public static ModelConfig modelLoads(Configuration conf) {
        return ModelConfig.read(Path.of(conf.get(CmtStreamOptions.MODEL_DIR)));
    }
}
