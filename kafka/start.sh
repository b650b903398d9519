#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft, broker and controller in
# one JVM) on a free loopback port for eosim's fidelity suite and real-broker
# runs, and prints its address. The jars come from Maven Central through
# kafka/pom.xml and are cached in $EOSIM_KAFKA_CACHE (reused between runs).
#
#   kafka/start.sh            # prints 127.0.0.1:PORT, writes $EOSIM_KAFKA_DIR/address
#   export EOSIM_KAFKA=$(cat "${EOSIM_KAFKA_DIR:-/tmp/eosim-kafka}/address")
#   kafka/stop.sh
#   kafka/start.sh --restart  # the stopped broker again: same port, same data
#
# Environment: EOSIM_KAFKA_DIR (state: config, data, log, pid, address;
# default /tmp/eosim-kafka), EOSIM_KAFKA_CACHE (jars; default
# ~/.cache/eosim/kafka-4.4.0), EOSIM_KAFKA_HEAP (default 512m).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=4.4.0
cache="${EOSIM_KAFKA_CACHE:-$HOME/.cache/eosim/kafka-$version}"
state="${EOSIM_KAFKA_DIR:-/tmp/eosim-kafka}"
heap="${EOSIM_KAFKA_HEAP:-512m}"

die() { echo "kafka/start.sh: $*" >&2; exit 2; }
command -v java >/dev/null 2>&1 || die "java not found (Java 17 or later is needed)"

if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
  die "a broker started from $state is still running (pid $(cat "$state/pid")); run kafka/stop.sh first"
fi

# 1. The jars, once.
if [ ! -f "$cache/libs/.complete" ]; then
  command -v mvn >/dev/null 2>&1 || die "mvn not found and $cache/libs is empty (Maven fetches the broker)"
  echo "kafka/start.sh: fetching Apache Kafka $version with Maven into $cache/libs" >&2
  rm -rf "$cache/libs"
  mkdir -p "$cache"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$cache/libs" >&2 ||
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$version (is Maven Central reachable?)"
  touch "$cache/libs/.complete"
fi
cp="$cache/libs/*"

restart=false
[ "${1:-}" = --restart ] && restart=true
if $restart; then
  [ -f "$state/server.properties" ] || die "--restart: no broker was started from $state"
  port=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1://p' "$state/server.properties")
fi

# 2. Two free loopback ports: the client listener and the controller.
# They are drawn below the kernel's ephemeral range: a port in that range
# that nothing listens on may still be the local end of a client
# connection (go test opens thousands on loopback), and the broker's bind
# then fails with "Address already in use" (seen in CI). Below the range
# only another listener that chose its port can collide, and a fresh start
# that meets one retries with new ports (step 5).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ephemeral_low=32768
if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
  read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
fi
port_low=10000 port_span=$((ephemeral_low - 10000))
[ "$port_span" -ge 1000 ] || port_low=20000 port_span=30000 # an unusual range: the old draw
pick_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((port_low + RANDOM % port_span))
    if port_free "$p" && [ "$p" != "${1:-}" ]; then echo "$p"; return; fi
  done
  die "no free loopback port found"
}
if ! $restart; then
port=$(pick_port)
cport=$(pick_port "$port")

# 3. Configuration fit for tests. Why each setting:
# - replication factors and min ISR 1: there is one broker.
# - group.initial.rebalance.delay.ms=0: no 3 s wait before a group's first
#   rebalance.
# - transaction.max.timeout.ms=300000: the ceiling a client's
#   transaction.timeout.ms may ask for; the engine's default is one minute.
# - transaction.abort.timed.out.transaction.cleanup.interval.ms=200: the
#   coordinator looks for expired transactions five times a second (default
#   10 s), so a timeout probe waits about its timeout, not ten seconds more.
# - transactional.id.expiration.ms=20000 with the removal scan every 500 ms:
#   an id idle for 20 s is forgotten (default 7 days), so the expiry probe
#   runs in seconds. It only touches ids with no open transaction, but a
#   restore resume-commits the pending transactions of its checkpoint,
#   and one the crashed attempt had already committed is idle since: its
#   resume is answered as a retry only while the broker still knows the
#   id, else INVALID_PRODUCER_ID_MAPPING, a loud "data lost" for a
#   correct protocol. At 4000 a real-time run's crash and restore on a
#   loaded CI machine outlasted it once (TestRealBroker,
#   offsets-in-txn/crash-after-ack, 2026-12-03); 20 s is well above any
#   such gap.
rm -rf "$state"
mkdir -p "$state/data"
cat >"$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=300000
transaction.abort.timed.out.transaction.cleanup.interval.ms=200
transactional.id.expiration.ms=20000
transaction.remove.expired.transaction.cleanup.interval.ms=500
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
cat >"$state/log4j2.properties" <<'PROPS'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.coordinator.name = kafka.coordinator.transaction
logger.coordinator.level = INFO
PROPS

jvm=(java "-Xmx$heap" "-Xms128m" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  "-Dkafka.logs.dir=$state" "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$cp")

# 4. Format the storage directory (kafka-storage.sh format).
cluster_id=$("${jvm[@]}" kafka.tools.StorageTool random-uuid)
"${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >"$state/format.log" 2>&1 ||
  { cat "$state/format.log" >&2; die "formatting $state/data failed"; }
fi # not a restart
jvm=(java "-Xmx$heap" "-Xms128m" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  "-Dkafka.logs.dir=$state" "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$cp")

# 5. Start it and wait until it serves.
[ -f "$state/server.log" ] && mv "$state/server.log" "$state/server.log.$(date +%s%N)"
nohup "${jvm[@]}" kafka.Kafka "$state/server.properties" >"$state/stdout.log" 2>&1 &
echo $! >"$state/pid"
for _ in $(seq 1 240); do
  if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
    # A port taken between the draw and the bind: a fresh start draws new
    # ports (at most three tries); a restart must keep its port.
    tries="${EOSIM_KAFKA_START_TRIES:-1}"
    if ! $restart && [ "$tries" -lt 3 ] && grep -q "BindException: Address already in use" "$state/server.log" "$state/stdout.log" 2>/dev/null; then
      echo "kafka/start.sh: port $port or $cport was taken before the broker bound it; trying new ports" >&2
      rm -f "$state/pid"
      EOSIM_KAFKA_START_TRIES=$((tries + 1)) exec "$0" "$@"
    fi
    tail -n 30 "$state/stdout.log" "$state/server.log" >&2 2>/dev/null || true
    die "the broker exited during startup (logs in $state)"
  fi
  if grep -q "Kafka Server started" "$state/server.log" 2>/dev/null && ! port_free "$port"; then
    echo "127.0.0.1:$port" >"$state/address"
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 0.25
done
"$here/stop.sh" >/dev/null 2>&1 || true
die "the broker did not become ready within 60 s (logs in $state)"
