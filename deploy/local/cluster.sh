#!/usr/bin/env bash
# The scale-out proof on one machine (issue 23): two replicas of each process — catalog-grpc,
# catalog-api, catalog-worker (relaying the outbox's two partitions, one each) — against the
# same PostgreSQL (its reads on a streaming replica, deploy/local/replica.sh), Redis and
# RabbitMQ (quorum queues), with the fault suite run across them: the load spread over the
# replicas, every replica's readiness probed, each fault's promises checked.
#
#   bash deploy/local/cluster.sh [scenario ...]     (about 8 minutes once built)
#
# Like deploy/local/faults.sh (which this runs with FAULTS_CLUSTER=1) it stops and starts this
# machine's services: run nothing else that uses them meanwhile. A replica it started, it
# removes at the end (its replication slot would keep the primary's WAL).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

ensure_postgres >/dev/null
if ! pg_isready -q -h 127.0.0.1 -p 5433; then
  trap 'bash deploy/local/replica.sh destroy >/dev/null 2>&1 || true' EXIT
fi
FAULTS_CLUSTER=1 bash deploy/local/faults.sh "$@"
