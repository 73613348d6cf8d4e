package latgraph;

import java.nio.file.Path;
import java.util.Map;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;

/**
 * A throw-away Neo4j 5.26 for latgraph's tests.
 *
 * <p>Usage: {@code java [jvm flags] -cp classes:deps latgraph.TestServer DIR PORT [PASSWORD]}.
 * Starts an in-process Neo4j with only Bolt enabled on 127.0.0.1:PORT (HTTP off), data under DIR.
 * With PASSWORD (Neo4j wants at least 8 characters), authentication is on and user {@code neo4j}
 * gets that password (no forced change);
 * without it, authentication is off. Prints {@code READY bolt://127.0.0.1:PORT} once it accepts
 * connections, then runs until its stdin is closed (or it gets SIGTERM), and shuts down cleanly.
 *
 * <p>With {@code -Dlatgraph.home=true}, DIR is the DBMS home itself (its {@code data/databases/neo4j}
 * is used as it is, e.g. a store written by {@code neo4j-admin database import full}; the harness
 * would put a fresh random folder under DIR instead), so a stopped server can be started again on
 * the same store.
 */
public final class TestServer {
    /** Page cache size in MiB: {@code -Dlatgraph.pagecacheMb=N} (default 64: a test server). */
    private static final long PAGECACHE_MB = Long.getLong("latgraph.pagecacheMb", 64);

    private TestServer() {}

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            // Neo4j's own threads would keep the JVM alive: exit so the caller sees the failure.
            System.err.println("latgraph TestServer: failed to start: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: TestServer DIR PORT [PASSWORD]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String password = args.length == 3 ? args[2] : null;
        long started = System.nanoTime();

        if (Boolean.getBoolean("latgraph.home")) {
            runHome(dir, port, password, started);
            return;
        }
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(dir)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .withConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(PAGECACHE_MB))
                .build();
        if (password != null) {
            neo4j.databaseManagementService()
                    .database("system")
                    .executeTransactionally(
                            "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));

        long millis = (System.nanoTime() - started) / 1_000_000;
        Runtime rt = Runtime.getRuntime();
        long usedMb = (rt.totalMemory() - rt.freeMemory()) / (1024 * 1024);
        System.err.printf("latgraph TestServer: started in %d ms, heap used %d MB, max %d MB%n",
                millis, usedMb, rt.maxMemory() / (1024 * 1024));
        System.out.println("READY " + neo4j.boltURI());
        System.out.flush();

        while (System.in.read() != -1) {
            // block until the parent closes our stdin
        }
        System.exit(0); // runs the shutdown hook
    }

    /** The same server on a fixed home directory (no harness: the embedded DBMS with Bolt on). */
    private static void runHome(Path home, int port, String password, long started) throws Exception {
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(PAGECACHE_MB))
                .build();
        if (password != null) {
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
        long millis = (System.nanoTime() - started) / 1_000_000;
        System.err.printf("latgraph TestServer: started on home %s in %d ms%n", home, millis);
        System.out.println("READY bolt://127.0.0.1:" + port);
        System.out.flush();
        while (System.in.read() != -1) {
            // block until the parent closes our stdin
        }
        System.exit(0); // runs the shutdown hook
    }
}
