#!/usr/bin/env bash
# registry.sh — a real schema registry for pg2kafka's tests, without Docker:
# Apicurio Registry, whose Confluent-compatible API is served under
# /apis/ccompat/v7, with in-memory storage (H2 in memory) on loopback.
#
#   registry.sh fetch              download Apicurio Registry (once); print
#                                  its directory
#   registry.sh java               print the java it runs on (21 or newer)
#   registry.sh start DIR PORT MGMT_PORT
#                                  exec the registry on 127.0.0.1:PORT (its
#                                  management interface, health and
#                                  metrics, on 127.0.0.1:MGMT_PORT), logging
#                                  to DIR/registry.log
#
# The Go helper internal/registrytest (registrytest.Real) runs `start` in a
# fresh temporary directory and stops the registry by its PID (start execs
# java, so the script's PID is the registry's).
#
# Apicurio comes from Maven Central: io.apicurio:apicurio-registry-app is a
# Quarkus application, and its plain jar would need Quarkus' build-time
# augmentation to run; but each release also attaches the augmented
# application itself (Quarkus' fast-jar layout, quarkus-run.jar with lib/,
# app/ and quarkus/) as the artifact of classifier "all", type tar.gz. That
# is what is fetched, by `mvn dependency:copy-dependencies` from a generated
# pom like kafka.sh's, and unpacked into
# ${PG2KAFKA_REGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka/apicurio-$VERSION}/app.
# VERSION is PG2KAFKA_TEST_REGISTRY_VERSION, default 3.3.3. A file named
# .complete marks a finished download, and flock serializes fetches.
#
# Notes, found empirically on Debian 12 (OpenJDK 17, Temurin 25, Maven
# 3.8.7), Nov 2026:
# - The "all" tar.gz of 3.3.3 is 159 MB (kept in ~/.m2 by Maven) and
#   unpacks to 168 MB; its download took ~25 s here.
# - Apicurio 3.x is built for Java 21 (class file version 65): OpenJDK 17
#   fails at once with UnsupportedClassVersionError. Debian 12 has no Java
#   21 package; the machines this project runs on carry a Temurin 25 JDK
#   under /usr/lib/jvm beside OpenJDK 17. The java used is the first of
#   $PG2KAFKA_REGISTRY_JAVA, $JAVA_HOME/bin/java, `java` on the PATH and
#   /usr/lib/jvm/*/bin/java whose major version is 21 or more; without one
#   the script exits with status 3 (registrytest then says so).
# - Storage: 3.x's default, apicurio.storage.kind=sql with
#   apicurio.storage.sql.kind=h2 and jdbc:h2:mem:..., is in memory: every
#   start is an empty registry. The global compatibility level is NONE, as
#   in Confluent's registry; PUT /config/SUBJECT on a subject that does not
#   exist yet is accepted (pg2kafka sets BACKWARD on the subjects it
#   creates so, before the first version) and BACKWARD is then enforced:
#   an incompatible version is refused with HTTP 409, error_code 409.
# - Start-up is slow for a test helper. Under the load of other suites on
#   the 2-core machine (load average 7-17), "started in" took 19-56 s
#   without help. With Java 25, an AOT cache (JEP 483/514:
#   -XX:AOTCacheOutput on a training run, -XX:AOTCache after) brought the
#   first answer to 9-17 s (back-to-back at load 7-10: 8.6 and 11.1 s with
#   it, 56 and 14 s without). `fetch` therefore makes one, by a training
#   start and a clean stop, into $CACHE/aot/VENDOR-BUILD.aot (~90 MB); a
#   cache made by another JVM build is not used. A fresh fetch, training
#   included, took 2 min here. -XX:TieredStopAtLevel=1 and SerialGC as for
#   the Kafka broker.
# - quarkus.otel.enabled is fixed at build time (true; setting it false at
#   run time only draws a warning), so its exporter's target stays the
#   default localhost:4317, where nothing listens. The database pool's
#   initial/min size is cut from 20 to 2 connections.
set -euo pipefail

VERSION="${PG2KAFKA_TEST_REGISTRY_VERSION:-3.3.3}"
case "$VERSION" in
[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "registry.sh: PG2KAFKA_TEST_REGISTRY_VERSION=$VERSION: want a release like 3.3.3" >&2; exit 1 ;;
esac
CACHE="${PG2KAFKA_REGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka/apicurio-$VERSION}"

die() { echo "registry.sh: $*" >&2; exit 1; }
# Exit status 3: the machine lacks a tool (registrytest then says why it
# cannot use a real registry).
missing() { echo "registry.sh: $*" >&2; exit 3; }

java_major() { # the major version of java $1, 0 if it does not run
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')" || true
  echo "${v:-0}" | cut -d. -f1
}

find_java() {
  local j cands=()
  [ -n "${PG2KAFKA_REGISTRY_JAVA:-}" ] && cands+=("$PG2KAFKA_REGISTRY_JAVA")
  [ -n "${JAVA_HOME:-}" ] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && cands+=("$(command -v java)")
  for j in /usr/lib/jvm/*/bin/java; do [ -x "$j" ] && cands+=("$j"); done
  for j in "${cands[@]}"; do
    if [ -x "$j" ] && [ "$(java_major "$j")" -ge 21 ]; then
      echo "$j"
      return
    fi
  done
  missing "Apicurio Registry $VERSION needs Java 21 or newer; none found (tried: ${cands[*]:-no java}). Install a JDK 21 or newer (Debian 12 packages none; Debian 13 has openjdk-21-jre-headless) or set PG2KAFKA_REGISTRY_JAVA to its java"
}

# jvm_opts prints the JVM options of a start, one a line.
jvm_opts() {
  printf '%s\n' -Xmx512m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true
}

# app_opts PORT MGMT_PORT prints the registry's settings, one a line.
app_opts() {
  printf '%s\n' -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$1" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$2" \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dquarkus.log.console.json=false
}

aot_file() { # the AOT cache of java $1, named by its vendor and build
  local props vendor build
  props="$("$1" -XshowSettings:properties -version 2>&1)" || true
  vendor="$(echo "$props" | sed -n 's/^ *java.vendor = //p' | tr -c 'A-Za-z0-9.+\n-' '_')"
  build="$(echo "$props" | sed -n 's/^ *java.runtime.version = //p' | tr -c 'A-Za-z0-9.+\n-' '_')"
  echo "$CACHE/aot/${vendor:-java}-${build:-unknown}.aot"
}

# train makes the AOT cache of java $1: a start on ports of the kernel's
# choosing (Quarkus takes port 0), stopped cleanly once it has started, when
# the JVM writes the cache. Best effort: without it the registry only
# starts slower.
train() {
  local java="$1" aot dir pid i
  [ "$(java_major "$java")" -ge 25 ] || return 0
  aot="$(aot_file "$java")"
  [ -f "$aot" ] && return 0
  mkdir -p "$CACHE/aot"
  dir="$(mktemp -d)"
  echo "registry.sh: a training start of Apicurio Registry for its AOT cache ($aot)" >&2
  mapfile -t jvm < <(jvm_opts)
  mapfile -t app < <(app_opts 0 0)
  (cd "$dir" && exec "$java" "${jvm[@]}" "-XX:AOTCacheOutput=$aot.tmp" "${app[@]}" \
    -jar "$CACHE/app/quarkus-run.jar") >"$dir/train.log" 2>&1 &
  pid=$!
  for i in $(seq 1 1800); do
    grep -q "started in" "$dir/train.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  if [ -f "$aot.tmp" ]; then
    mv "$aot.tmp" "$aot"
  else
    echo "registry.sh: no AOT cache made (see below); the registry starts without one" >&2
    tail -5 "$dir/train.log" >&2 || true
  fi
  rm -rf "$dir" "$aot.tmp" "$aot.tmp.config"
}

fetch() {
  local java
  java="$(find_java)"
  if [ -f "$CACHE/.complete" ]; then
    echo "$CACHE"
    return
  fi
  command -v mvn >/dev/null 2>&1 || missing "mvn not found (apt-get install -y maven)"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$CACHE/.complete" ]; then
    cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pg2kafka.test</groupId>
  <artifactId>registry-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>$VERSION</version>
      <classifier>all</classifier>
      <type>tar.gz</type>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
    </dependency>
  </dependencies>
</project>
EOF
    rm -rf "$CACHE/dist" "$CACHE/app"
    echo "registry.sh: fetching Apicurio Registry $VERSION from Maven Central into $CACHE" >&2
    (cd "$CACHE" && mvn -q -B dependency:copy-dependencies -DexcludeTransitive=true \
      -DoutputDirectory="$CACHE/dist") >&2 ||
      die "mvn dependency:copy-dependencies failed for io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all"
    mkdir -p "$CACHE/app"
    tar -xzf "$CACHE/dist/apicurio-registry-app-$VERSION-all.tar.gz" -C "$CACHE/app" ||
      die "unpacking apicurio-registry-app-$VERSION-all.tar.gz failed"
    rm -rf "$CACHE/dist"
    [ -f "$CACHE/app/quarkus-run.jar" ] || die "quarkus-run.jar missing from apicurio-registry-app-$VERSION-all.tar.gz"
    train "$java"
    touch "$CACHE/.complete"
  fi
  flock -u 9
  echo "$CACHE"
}

start() {
  [ $# -eq 3 ] || die "usage: registry.sh start DIR PORT MGMT_PORT"
  local dir="$1" port="$2" mgmt="$3" java aot
  fetch >/dev/null
  java="$(find_java)"
  mkdir -p "$dir"
  cd "$dir" # Quarkus writes nothing else there; the H2 database is in memory
  mapfile -t jvm < <(jvm_opts)
  mapfile -t app < <(app_opts "$port" "$mgmt")
  aot="$(aot_file "$java")"
  if [ -f "$aot" ]; then
    jvm+=("-XX:AOTCache=$aot")
  fi
  exec "$java" "${jvm[@]}" "${app[@]}" -jar "$CACHE/app/quarkus-run.jar" >"$dir/registry.log" 2>&1
}

case "${1:-}" in
fetch) fetch ;;
java) find_java ;;
start) shift; start "$@" ;;
*) die "usage: registry.sh fetch | registry.sh java | registry.sh start DIR PORT MGMT_PORT" ;;
esac
