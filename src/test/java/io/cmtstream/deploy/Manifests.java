package io.cmtstream.deploy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Parsing and structural checks of rendered Kubernetes manifests for the deployment tests: multi-document YAML,
 * the object envelope every Kubernetes object needs, DNS names, and validation of a custom resource against the
 * OpenAPI v3 schema of its CustomResourceDefinition (the subset Kubernetes' structural schemas use).
 */
final class Manifests {
    /** YAML with duplicate keys rejected (Kubernetes rejects them; Jackson would keep the last one). */
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** DNS-1123 subdomain: names of most objects (ConfigMap, PVC, custom resources). */
    private static final Pattern DNS_1123_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    /** DNS-1035 label: Service names. */
    private static final Pattern DNS_1035_LABEL = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");

    private Manifests() {}

    /** The non-empty documents of a multi-document YAML stream (as {@code helm template} prints). */
    static List<JsonNode> parseAll(String yaml) {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && doc.isObject() && !doc.isEmpty()) {
                    docs.add(doc);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("rendered manifests are not valid YAML", e);
        }
        return docs;
    }

    /** The envelope every object needs: apiVersion, kind, metadata.name valid for its kind. */
    static List<String> envelopeErrors(JsonNode doc) {
        List<String> errors = new ArrayList<>();
        String kind = doc.path("kind").asText("");
        String name = doc.path("metadata").path("name").asText("");
        String where = kind + "/" + name;
        if (doc.path("apiVersion").asText("").isEmpty()) {
            errors.add(where + ": no apiVersion");
        }
        if (kind.isEmpty()) {
            errors.add(where + ": no kind");
        }
        if (name.isEmpty()) {
            errors.add(where + ": no metadata.name");
        } else if ("Service".equals(kind)) {
            if (name.length() > 63 || !DNS_1035_LABEL.matcher(name).matches()) {
                errors.add(where + ": Service name is not a DNS-1035 label");
            }
        } else if (name.length() > 253 || !DNS_1123_SUBDOMAIN.matcher(name).matches()) {
            errors.add(where + ": name is not a DNS-1123 subdomain");
        }
        for (String part : List.of("labels", "annotations")) {
            JsonNode map = doc.path("metadata").path(part);
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    errors.add(where + ": metadata." + part + "." + e.getKey() + " is not a string");
                }
                if ("labels".equals(part) && e.getValue().asText().length() > 63) {
                    errors.add(where + ": label " + e.getKey() + " is longer than 63 characters");
                }
            }
        }
        return errors;
    }

    static boolean isDns1123Label(String s) {
        return s.length() <= 63 && Pattern.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?", s);
    }

    /** The openAPIV3Schema of one version of a CRD found on the classpath. */
    static JsonNode crdSchema(String resource, String version) {
        try (InputStream in = Manifests.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("CRD " + resource + " is not on the test classpath");
            }
            JsonNode crd = YAML.readTree(in);
            for (JsonNode v : crd.path("spec").path("versions")) {
                if (version.equals(v.path("name").asText())) {
                    return v.path("schema").path("openAPIV3Schema");
                }
            }
            throw new IllegalStateException("CRD " + resource + " has no version " + version);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Validates a value against a structural OpenAPI v3 schema: types, properties (unknown fields are errors, as
     * the API server would prune them silently), additionalProperties, items, enum, required, int-or-string.
     */
    static List<String> schemaErrors(JsonNode value, JsonNode schema, String path) {
        List<String> errors = new ArrayList<>();
        validate(value, schema, path, errors);
        return errors;
    }

    private static void validate(JsonNode value, JsonNode schema, String path, List<String> errors) {
        if (schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
            if (!value.isIntegralNumber() && !value.isTextual()) {
                errors.add(path + ": expected an integer or a string, got " + value.getNodeType());
            }
            return;
        }
        if (value.isNull()) {
            if (!schema.path("nullable").asBoolean(false)) {
                errors.add(path + ": null is not allowed");
            }
            return;
        }
        String type = schema.path("type").asText("");
        switch (type) {
            case "object" -> {
                if (!value.isObject()) {
                    errors.add(path + ": expected an object, got " + value.getNodeType());
                    return;
                }
                JsonNode properties = schema.path("properties");
                JsonNode additional = schema.path("additionalProperties");
                boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
                for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = it.next();
                    String child = path + "." + field.getKey();
                    if (properties.has(field.getKey())) {
                        validate(field.getValue(), properties.get(field.getKey()), child, errors);
                    } else if (additional.isObject()) {
                        validate(field.getValue(), additional, child, errors);
                    } else if (!preserve && !additional.asBoolean(false)) {
                        errors.add(child + ": unknown field");
                    }
                }
                for (JsonNode required : schema.path("required")) {
                    if (!value.has(required.asText())) {
                        errors.add(path + ": missing required field " + required.asText());
                    }
                }
            }
            case "array" -> {
                if (!value.isArray()) {
                    errors.add(path + ": expected an array, got " + value.getNodeType());
                    return;
                }
                for (int i = 0; i < value.size(); i++) {
                    validate(value.get(i), schema.path("items"), path + "[" + i + "]", errors);
                }
            }
            case "string" -> {
                if (!value.isTextual()) {
                    errors.add(path + ": expected a string, got " + value.getNodeType() + " " + value);
                }
            }
            case "integer" -> {
                if (!value.isIntegralNumber()) {
                    errors.add(path + ": expected an integer, got " + value.getNodeType() + " " + value);
                }
            }
            case "number" -> {
                if (!value.isNumber()) {
                    errors.add(path + ": expected a number, got " + value.getNodeType() + " " + value);
                }
            }
            case "boolean" -> {
                if (!value.isBoolean()) {
                    errors.add(path + ": expected a boolean, got " + value.getNodeType() + " " + value);
                }
            }
            default -> {
                // No type: x-kubernetes-preserve-unknown-fields or a free-form value.
            }
        }
        JsonNode allowed = schema.path("enum");
        if (allowed.isArray() && !allowed.isEmpty()) {
            boolean found = false;
            for (JsonNode a : allowed) {
                found |= a.asText().equals(value.asText());
            }
            if (!found) {
                errors.add(path + ": '" + value.asText() + "' is not one of " + allowed);
            }
        }
    }
}
