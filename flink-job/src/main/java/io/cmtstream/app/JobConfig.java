package io.cmtstream.app;

import io.cmtstream.app.CmtStreamOptions.ValueFormat;
import io.cmtstream.registry.RegistrySettings;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

import static io.cmtstream.app.CmtStreamOptions.*;

/**
 * Reads the job's configuration: an optional properties file ({@code --config FILE}) overlaid with
 * {@code --key value} flags (parsed by {@link JobArgs}). Keys starting with {@code cmt.} must be known options (see {@link CmtStreamOptions})
 * and valid, else start-up fails naming the key; other keys are Flink's own and are passed to Flink.
 */
public final class JobConfig {
    private JobConfig() {}

    /**
     * The configuration of {@code --config FILE} and {@code --key value} arguments (see {@link JobArgs}).
     *
     * @throws IllegalArgumentException naming the argument, key or value at fault
     */
    public static Configuration fromArgs(String[] args) {
        Command command = new Command();
        if (!Cli.parse(command, args)) {
            throw new IllegalArgumentException("--help is not a configuration");
        }
        return command.job.configuration();
    }

    /** The job's options alone, as a command line. */
    @CommandLine.Command(name = "cmt-stream-job")
    static final class Command {
        @CommandLine.Mixin
        JobArgs job = new JobArgs();
    }

    public static Map<String, String> readFile(Path file) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(reader);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (String name : props.stringPropertyNames()) {
            map.put(name, props.getProperty(name).trim());
        }
        return map;
    }

    public static Configuration fromMap(Map<String, String> values) {
        Set<String> known = CmtStreamOptions.all().stream().map(ConfigOption::key).collect(Collectors.toSet());
        for (String key : values.keySet()) {
            if (key.startsWith("cmt.") && !known.contains(key)
                    && !key.startsWith(CmtStreamOptions.KAFKA_PROPERTIES_PREFIX)) {
                throw new IllegalArgumentException("unknown configuration key '" + key + "' (known cmt.* keys: "
                        + known.stream().sorted().collect(Collectors.joining(", ")) + ")");
            }
        }
        Configuration conf = Configuration.fromMap(values);
        for (ConfigOption<?> option : CmtStreamOptions.all()) {
            try {
                conf.get(option);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("invalid value '" + values.get(option.key()) + "' for '"
                        + option.key() + "': " + e.getMessage(), e);
            }
        }
        return conf;
    }

    /** The pass-through Kafka client properties, without their prefix. */
    public static Properties kafkaProperties(Configuration conf) {
        Properties props = new Properties();
        conf.toMap().forEach((k, v) -> {
            if (k.startsWith(CmtStreamOptions.KAFKA_PROPERTIES_PREFIX)) {
                props.setProperty(k.substring(CmtStreamOptions.KAFKA_PROPERTIES_PREFIX.length()), v);
            }
        });
        return props;
    }

    /**
     * The schema registry the job's values are framed for, or null for plain Avro ({@code cmt.kafka.value-format}).
     *
     * @throws IllegalArgumentException naming {@code cmt.registry.url} when the registry format has none
     */
    public static RegistrySettings registrySettings(Configuration conf) {
        if (conf.get(VALUE_FORMAT) != ValueFormat.AVRO_REGISTRY) {
            return null;
        }
        String url = conf.getOptional(REGISTRY_URL).map(String::strip).orElse("");
        if (url.isEmpty()) {
            throw new IllegalArgumentException("'" + VALUE_FORMAT.key() + "' is " + ValueFormat.AVRO_REGISTRY + " but '"
                    + REGISTRY_URL.key() + "' is not set");
        }
        return RegistrySettings.builder(url)
                .autoRegister(conf.get(REGISTRY_AUTO_REGISTER))
                .unknownIdTtl(conf.get(REGISTRY_UNKNOWN_ID_TTL))
                .requestTimeout(conf.get(REGISTRY_REQUEST_TIMEOUT))
                .maxBackoff(conf.get(REGISTRY_MAX_BACKOFF))
                .basicAuthUserInfoFile(conf.get(REGISTRY_BASIC_AUTH_FILE))
                .bearerTokenFile(conf.get(REGISTRY_BEARER_TOKEN_FILE))
                .keyStore(conf.get(REGISTRY_KEYSTORE), conf.get(REGISTRY_KEYSTORE_PASSWORD_FILE))
                .trustStore(conf.get(REGISTRY_TRUSTSTORE), conf.get(REGISTRY_TRUSTSTORE_PASSWORD_FILE))
                .build();
    }
}
