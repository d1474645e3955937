#!/usr/bin/env bash
# kafka.sh — a real Apache Kafka broker for pg2kafka's tests, without Docker.
#
#   kafka.sh fetch                      download Kafka (once); print its lib dir
#   kafka.sh start DIR PORT CTRL_PORT   format DIR and exec a combined
#                                       broker+controller on 127.0.0.1:PORT
#                                       (controller on 127.0.0.1:CTRL_PORT;
#                                       2.x: ZooKeeper there, then the broker)
#
# KAFKATEST_BROKER_PROPERTIES, if set, is appended to server.properties (for
# experiments: e.g. add.partitions.to.txn.retry.backoff.ms=1).
#
# The Go helper internal/kafkatest (kafkatest.Real) runs `start` in a fresh
# temporary directory and stops the broker by its PID (start execs java, so
# the script's PID is the broker's).
#
# Kafka comes from Maven Central, not from a release tarball: the artifact
# org.apache.kafka:kafka_2.13:$KAFKA_VERSION (KAFKA_VERSION from
# PG2KAFKA_TEST_KAFKA_VERSION, default 4.4.0) with its runtime dependencies,
# copied by `mvn dependency:copy-dependencies` from a generated pom into
# ${PG2KAFKA_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka/kafka-$KAFKA_VERSION}/libs.
# The cache is outside the repository and reused across runs; a file named
# .complete marks a finished download, and flock serializes concurrent
# fetches. The classpath is every jar in libs/.
#
# Notes, found empirically on Debian 12 (OpenJDK 17, Maven 3.8.7), Nov 2026:
# - Maven Central serves kafka_2.13 4.0.0 ... 4.4.0; 4.4.0 is pinned. The
#   first fetch fills Maven's local repository (~/.m2, 56 MB with the
#   dependency plugin) and copies 45 jars (43 MB) into the cache; it took
#   16-19 s here. Later runs reuse the cache and need no network.
# - kafka_2.13's pom brings the whole server (kafka-server, -raft,
#   -metadata, -storage, the group/transaction/share coordinators, scala),
#   and log4j-api/-core, but no SLF4J binding: Kafka then logs nothing
#   (SLF4J's NOP logger). log4j-slf4j-impl is added so that warnings and
#   errors reach DIR/kafka.log (see log4j2.properties below).
# - What bin/kafka-storage.sh runs in 4.x is kafka.tools.StorageTool (in
#   kafka_2.13.jar): `random-uuid`, then `format -t UUID -c server.properties
#   --standalone` formats a single-node KRaft quorum whose voter is this node
#   (with controller.quorum.bootstrap.servers, not controller.quorum.voters).
#   It takes ~2.5 s of JVM time on 2 cores; the cluster ID is made here in
#   bash (random-uuid's format) rather than by a second JVM start.
# - bin/kafka-server-start.sh runs kafka.Kafka server.properties. As root is
#   fine (unlike PostgreSQL). With -Xmx512m and SerialGC the broker accepts
#   connections ~3 s after the JVM starts on an idle 2-core machine, 6-8 s
#   when other test suites load it. -XX:TieredStopAtLevel=1 (C1 only) cut
#   format from 5.8 s to 2.0 s and start from 8.3 s to 6.1 s under load;
#   the tests' traffic is too small to miss C2.
# - 4.4's format enables transaction.version=2 (KIP-890), which franz-go
#   1.22 speaks.
# - 3.x (tried: 3.9.1, 3.3.2, on Java 17) logs through SLF4J 1.7 and
#   reload4j, which kafka_2.13 3.x brings; slf4j-reload4j is added instead
#   of log4j-slf4j-impl, with a log4j.properties of the same levels. 3.3-3.8
#   cannot format with --standalone (KIP-853 came in 3.9): 3.x gets the
#   static quorum controller.quorum.voters=1@127.0.0.1:CTRL_PORT and a plain
#   format. Fetches took ~15 s each; 3.x starts a little faster than 4.4.
#   Finalized features (ApiVersions): 4.4.0 transaction.version=2 and
#   metadata.version=33 among others; 3.9.1 only metadata.version=21; 3.3.2
#   metadata.version=7; 3.0.2 none. So 3.x runs transactions without
#   KIP-890 part 2 (the producer epoch stays fixed across transactions).
# - 3.0.2 (KRaft still a preview then) starts the same way and passes the
#   tests; 2.8.2 starts too, but its KRaft mode serves no InitProducerId, so
#   a transactional producer fails ("broker is too old"). So 2.x runs in
#   ZooKeeper mode: a ZooKeeperServerMain from the same classpath (admin
#   server and log4j JMX off: reload4j has no org.apache.log4j.jmx) on
#   CTRL_PORT, then the broker. 2.8.2 and 2.4.1 (the first kafka_2.13)
#   start so on Java 17 and take transactions. 2.3.1 (kafka_2.12) does not:
#   its ZooKeeper 3.4 client cannot connect on Java 14+ ("Unable to
#   canonicalize address 127.0.0.1/<unresolved>", ZOOKEEPER-3779), and
#   pinning ZooKeeper 3.5.9 instead fails with NoSuchFieldError: tlm; it
#   would need Java 11.
# - Internal topics are made small (one partition, replication factor 1) so
#   that the first transactional producer and the first consumer group do
#   not wait for 50-partition __transaction_state/__consumer_offsets.
# - auto.create.topics.enable=false, as on most production clusters: the
#   tests must not rely on a broker creating topics on a metadata request.
set -euo pipefail

KAFKA_VERSION="${PG2KAFKA_TEST_KAFKA_VERSION:-${PG2KAFKA_KAFKA_VERSION:-4.4.0}}"
KAFKA_MAJOR="${KAFKA_VERSION%%.*}"
case "$KAFKA_VERSION" in
[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "kafka.sh: PG2KAFKA_TEST_KAFKA_VERSION=$KAFKA_VERSION: want a release like 4.4.0" >&2; exit 1 ;;
esac
KAFKA_MINOR="${KAFKA_VERSION#*.}"
KAFKA_MINOR="${KAFKA_MINOR%%.*}"
if [ "$KAFKA_MAJOR" -ge 4 ]; then
  # 4.x logs through log4j 2 (log4j-api/-core come with kafka_2.13);
  # log4j-slf4j-impl matching the log4j-core that kafka_2.13 4.4.0 depends on.
  LOG_BINDING="org.apache.logging.log4j:log4j-slf4j-impl:${PG2KAFKA_LOG4J_VERSION:-2.25.5}"
else
  # 3.x logs through SLF4J 1.7 and log4j 1 (reload4j).
  LOG_BINDING="org.slf4j:slf4j-reload4j:1.7.36"
fi
# Kafka is built for Scala 2.13 from 2.4.0 on; older releases for 2.12.
SCALA=2.13
if [ "$KAFKA_MAJOR" -lt 2 ] || { [ "$KAFKA_MAJOR" -eq 2 ] && [ "$KAFKA_MINOR" -lt 4 ]; }; then
  SCALA=2.12
fi
CACHE="${PG2KAFKA_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka/kafka-$KAFKA_VERSION}"

die() { echo "kafka.sh: $*" >&2; exit 1; }
# Exit status 3: the machine lacks a tool (kafkatest then falls back to kfake).
missing() { echo "kafka.sh: $*" >&2; exit 3; }

fetch() {
  if [ -f "$CACHE/.complete" ]; then
    echo "$CACHE/libs"
    return
  fi
  command -v java >/dev/null 2>&1 || missing "java not found (apt-get install -y openjdk-17-jre-headless)"
  command -v mvn >/dev/null 2>&1 || missing "mvn not found (apt-get install -y maven)"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$CACHE/.complete" ]; then
    cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pg2kafka.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>${LOG_BINDING%%:*}</groupId>
      <artifactId>$(echo "$LOG_BINDING" | cut -d: -f2)</artifactId>
      <version>${LOG_BINDING##*:}</version>
    </dependency>
  </dependencies>
</project>
EOF
    rm -rf "$CACHE/libs"
    echo "kafka.sh: fetching Kafka $KAFKA_VERSION from Maven Central into $CACHE" >&2
    (cd "$CACHE" && mvn -q -B dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$CACHE/libs") >&2 ||
      die "mvn dependency:copy-dependencies failed for org.apache.kafka:kafka_$SCALA:$KAFKA_VERSION"
    ls "$CACHE/libs/kafka_$SCALA-$KAFKA_VERSION.jar" >/dev/null || die "kafka_$SCALA-$KAFKA_VERSION.jar missing after the fetch"
    touch "$CACHE/.complete"
  fi
  flock -u 9
  echo "$CACHE/libs"
}

# start_zookeeper runs a 2.x broker: a ZooKeeper server on CTRL_PORT
# (ZooKeeperServerMain from the same classpath, killed by the kernel when
# the broker, its parent, dies; kafkatest also kills the process group),
# then execs the broker with zookeeper.connect. No format step.
start_zookeeper() {
  local dir="$1" port="$2" zk="$3" libs="$4"
  cat >"$dir/server.properties" <<EOF
broker.id=1
zookeeper.connect=127.0.0.1:$zk
listeners=PLAINTEXT://127.0.0.1:$port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.check.interval.ms=600000
${KAFKATEST_BROKER_PROPERTIES:-}
EOF
  local f
  for f in kafka zookeeper; do
    cat >"$dir/log4j-$f.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/$f.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
EOF
  done
  local jvm=(-Xmx512m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true)
  mkdir -p "$dir/zookeeper"
  setpriv --pdeathsig KILL java "${jvm[@]}" "-Dlog4j.configuration=file:$dir/log4j-zookeeper.properties" \
    -Dzookeeper.admin.enableServer=false -Dzookeeper.jmx.log4j.disable=true -cp "$libs/*" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$zk" "$dir/zookeeper" >"$dir/zookeeper.out" 2>&1 &
  exec java "${jvm[@]}" "-Dlog4j.configuration=file:$dir/log4j-kafka.properties" -cp "$libs/*" \
    kafka.Kafka "$dir/server.properties"
}

# logging writes DIR's logging configuration for a KRaft broker: warnings
# and errors, and the line saying it started, to DIR/kafka.log (4.x: log4j
# 2; 3.x: log4j 1 through reload4j, same levels and file).
logging() {
  local dir="$1"
  cat >"$dir/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/kafka.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
}

start() {
  [ $# -eq 3 ] || die "usage: kafka.sh start DIR PORT CONTROLLER_PORT"
  local dir="$1" port="$2" ctrl="$3" libs
  libs="$(fetch)"
  mkdir -p "$dir/data"
  if [ "$KAFKA_MAJOR" -lt 3 ]; then
    start_zookeeper "$dir" "$port" "$ctrl" "$libs"
  fi
  # 4.x formats a dynamic quorum with --standalone; 3.3-3.8 know only the
  # static one, named by controller.quorum.voters (which 3.9 also accepts).
  local quorum format_args=() uuid
  if [ "$KAFKA_MAJOR" -ge 4 ]; then
    quorum="controller.quorum.bootstrap.servers=127.0.0.1:$ctrl"
    format_args=(--standalone)
  else
    quorum="controller.quorum.voters=1@127.0.0.1:$ctrl"
  fi
  # A cluster ID as `kafka-storage.sh random-uuid` prints it (16 random
  # bytes, base64url, unpadded) without a JVM start for it.
  uuid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  uuid="A${uuid:1}" # not starting with '-', which the option parser would take
  kraft "$dir" "$port" "$ctrl" 1 "$quorum" 1 "$uuid" 512m "$libs" "${format_args[@]}"
}

# node runs one node of a KRaft cluster (kafkatest.StartCluster): broker
# and controller combined, node.id ID, the static quorum VOTERS
# ("1@127.0.0.1:P1,2@127.0.0.1:P2,..."), every node formatted with the same
# CLUSTER_ID. Topics, internal ones included, are replicated to every node
# with min.insync.replicas one less, so that one node may be down. DIR is
# formatted only once: the same command restarts a killed node on its data.
node() {
  [ $# -eq 6 ] || die "usage: kafka.sh node DIR PORT CONTROLLER_PORT ID VOTERS CLUSTER_ID"
  local dir="$1" port="$2" ctrl="$3" id="$4" voters="$5" cluster="$6" libs
  [ "$KAFKA_MAJOR" -ge 4 ] || { [ "$KAFKA_MAJOR" -eq 3 ] && [ "$KAFKA_MINOR" -ge 3 ]; } ||
    die "a cluster needs KRaft with static voters: Kafka 3.3 or newer, not $KAFKA_VERSION"
  libs="$(fetch)"
  mkdir -p "$dir/data"
  kraft "$dir" "$port" "$ctrl" "$id" "controller.quorum.voters=$voters" \
    $(($(echo "$voters" | tr -cd ',' | wc -c) + 1)) "$cluster" 384m "$libs"
}

# kraft writes DIR's server.properties and logging configuration for a
# combined broker and controller (node.id ID, the quorum line QUORUM, every
# topic replicated N times with min.insync.replicas one less, but at least
# 1), formats DIR/data for cluster CLUSTER unless it is formatted (with the
# storage tool's FORMAT_ARGS), and execs the broker with a heap of HEAP.
kraft() {
  local dir="$1" port="$2" ctrl="$3" id="$4" quorum="$5" n="$6" cluster="$7" heap="$8" libs="$9"
  shift 9
  local isr=$((n > 1 ? n - 1 : 1))
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
$quorum
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$n
min.insync.replicas=$isr
auto.create.topics.enable=false
offsets.topic.replication.factor=$n
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$n
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=$n
share.coordinator.state.topic.replication.factor=$n
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.check.interval.ms=600000
${KAFKATEST_BROKER_PROPERTIES:-}
EOF
  logging "$dir"
  local jvm=("-Xmx$heap" -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" "-Dlog4j.configuration=file:$dir/log4j.properties")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${jvm[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster" \
      -c "$dir/server.properties" "$@" >"$dir/format.log" 2>&1 ||
      { cat "$dir/format.log" >&2; die "formatting $dir/data failed"; }
  fi
  exec java "${jvm[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
fetch) fetch ;;
start) shift; start "$@" ;;
node) shift; node "$@" ;;
*) die "usage: kafka.sh fetch | kafka.sh start DIR PORT CONTROLLER_PORT | kafka.sh node DIR PORT CONTROLLER_PORT ID VOTERS CLUSTER_ID" ;;
esac

