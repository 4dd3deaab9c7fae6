package io.cmtstream.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the backbone's files: a file of that name in the model directory wins, else the classpath resource (the
 * Maven artifact's jar). ONNX Runtime wants a file path, so a resource inside a jar is copied out once per JVM and
 * class loader; so is the copy that declares an inner tensor as a second output ({@link OnnxGraphOutputs}). The
 * copies are deleted when the JVM exits.
 *
 * <p>Thread-safe. The static caches are deliberate: the 133 MB copies must not be repeated per slot or per
 * restart.
 */
final class BackboneResources {

    private static final Logger LOG = LoggerFactory.getLogger(BackboneResources.class);

    private static final Map<String, Path> EXTRACTED = new ConcurrentHashMap<>();
    private static final Map<List<Object>, Path> WITH_OUTPUT = new ConcurrentHashMap<>();

    private BackboneResources() {}

    /** Opens the named resource for reading. */
    static InputStream open(Path modelDir, String name) throws IOException {
        Path local = modelDir.resolve(name);
        if (Files.isRegularFile(local)) {
            return Files.newInputStream(local);
        }
        return find(modelDir, name).openStream();
    }

    /** A file holding the named resource's bytes. */
    static Path file(Path modelDir, String name) throws IOException {
        Path local = modelDir.resolve(name);
        if (Files.isRegularFile(local)) {
            return local;
        }
        URL url = find(modelDir, name);
        if ("file".equals(url.getProtocol())) {
            try {
                return Path.of(url.toURI());
            } catch (URISyntaxException e) {
                // Fall through to copying: the stream still works.
            }
        }
        try {
            return EXTRACTED.computeIfAbsent(url.toExternalForm(), key -> extract(url, name));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * A file holding the named ONNX resource with {@code tensor} declared as one more graph output.
     *
     * @throws IOException if the resource cannot be found, read or copied
     * @throws IllegalArgumentException if the resource is not an ONNX model or has no such tensor
     */
    static Path fileWithOutput(Path modelDir, String name, String tensor) throws IOException {
        Path source = file(modelDir, name).toAbsolutePath();
        try {
            return WITH_OUTPUT.computeIfAbsent(List.of(source, tensor), key -> {
                long started = System.nanoTime();
                try {
                    Path edited = Files.createTempFile("cmt-backbone-", "-" + source.getFileName());
                    edited.toFile().deleteOnExit();
                    OnnxGraphOutputs.withFloatOutput(source, tensor, edited);
                    LOG.info("Declared {} a graph output of {} in {} ({} ms)", tensor, name, edited,
                            (System.nanoTime() - started) / 1_000_000);
                    return edited;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static URL find(Path modelDir, String name) throws IOException {
        URL url = BackboneResources.class.getClassLoader().getResource(name);
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (url == null && context != null) {
            url = context.getResource(name);
        }
        if (url == null) {
            throw new IOException("backbone resource " + name + " is neither a file in " + modelDir
                    + " nor on the classpath (it comes from the backbone's Maven artifact)");
        }
        return url;
    }

    private static Path extract(URL url, String name) {
        long started = System.nanoTime();
        try {
            Path file = Files.createTempFile("cmt-backbone-", "-" + Path.of(name).getFileName());
            file.toFile().deleteOnExit();
            try (InputStream in = url.openStream()) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            }
            LOG.info("Extracted backbone resource {} ({} bytes) to {} in {} ms", name, Files.size(file), file,
                    (System.nanoTime() - started) / 1_000_000);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
