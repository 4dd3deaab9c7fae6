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
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the backbone's files: a file of that name in the model directory wins, else the classpath resource (the
 * Maven artifact's jar). ONNX Runtime wants a file path, so a resource inside a jar is copied out once per JVM and
 * class loader; the copy is deleted when the JVM exits.
 *
 * <p>Thread-safe. The static cache is deliberate: the 133 MB copy must not be repeated per slot or per restart.
 */
final class BackboneResources {

    private static final Logger LOG = LoggerFactory.getLogger(BackboneResources.class);

    private static final Map<String, Path> EXTRACTED = new ConcurrentHashMap<>();

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
