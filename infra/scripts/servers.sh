# Sourced by infra/scripts/test and infra/scripts/bench: starts the local stand-ins on free
# ports of 127.0.0.1 and stops them, by PID, when the calling script exits.
#   start_dynamodb  -> DYNAMODB_LOCAL_ENDPOINT (and DYNAMODB_LOCAL_PID)
#   start_moto      -> MOTO_S3_ENDPOINT
# `start_dynamodb NAME` starts another instance logging to NAME.log: the stall test freezes
# its own instance (SIGSTOP), so the other tests never share a frozen table.
# Needs $root (the repository) and infra/scripts/setup-tools to have run.

tools="$root/.tools"
logs="$root/target/test-servers"
mkdir -p "$logs"
pids=()
stop_servers() {
  # A server a test left frozen (SIGSTOP) would never act on SIGTERM: wake it first.
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_servers EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # name url log
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$2"; then echo "servers: $1 is up at $2"; return 0; fi
    sleep 0.2
  done
  echo "servers: $1 did not start; its log:" >&2
  cat "$3" >&2
  return 1
}

start_dynamodb() {
  local port ddb name="${1:-dynamodb}"
  port="$(free_port)"
  ddb="$tools/dynamodb/current"
  java -Djava.library.path="$ddb/DynamoDBLocal_lib" \
    -cp "$tools/dynamodb/classes:$ddb/DynamoDBLocal.jar:$ddb/DynamoDBLocal_lib/*" \
    LoopbackDynamoDb -inMemory -port "$port" -disableTelemetry >"$logs/$name.log" 2>&1 &
  DYNAMODB_LOCAL_PID=$!
  pids+=("$DYNAMODB_LOCAL_PID")
  wait_for "DynamoDB Local ($name)" "http://127.0.0.1:$port" "$logs/$name.log"
  DYNAMODB_LOCAL_ENDPOINT="http://127.0.0.1:$port"
}

start_moto() {
  local port
  port="$(free_port)"
  "$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logs/moto.log" 2>&1 &
  pids+=($!)
  wait_for "S3 (moto)" "http://127.0.0.1:$port/moto-api/" "$logs/moto.log"
  MOTO_S3_ENDPOINT="http://127.0.0.1:$port"
}
