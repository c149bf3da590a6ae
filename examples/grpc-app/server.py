"""Example gRPC service with the standard health service (grpc.health.v1).

SIGUSR1 flips the overall status between SERVING and NOT_SERVING, so a probe's
exit code can be watched changing (grpc_health_probe: 0 SERVING, 4 NOT_SERVING).
"""

from __future__ import annotations

import os
import signal
import sys
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main() -> int:
    port = int(os.environ.get("PORT", "50051"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    status = {"serving": True}

    def apply() -> None:
        value = (
            health_pb2.HealthCheckResponse.SERVING
            if status["serving"]
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        checker.set("", value)

    def flip(_sig: int, _frame: FrameType | None) -> None:
        status["serving"] = not status["serving"]
        apply()
        print("status:", "SERVING" if status["serving"] else "NOT_SERVING", flush=True)

    apply()
    signal.signal(signal.SIGUSR1, flip)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
