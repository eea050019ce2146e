#!/usr/bin/env python3
"""One device, in Python, against `mcc-emu serve`.

Generates the gRPC stubs from the repository's proto/ folder into a
temporary folder (nothing generated is kept), then: asks the emulator for
the scenario's area, registers a device at --from (default: the area's
south-west corner), moves it to --to (default: the north-east corner) in
--steps moves (ReportPosition), sends a request after every move
(SendRequest) and prints each request's delay as this process measured it,
next to the emulator's own breakdown. Corners of the area may lie outside
every cell (outcome OUTCOME_NO_COVERAGE): give --from and --to inside cells.

Needs Python 3.9+ with grpcio and grpcio-tools:
    python3 -m pip install grpcio grpcio-tools

Usage:
    mcc-emu serve --listen 127.0.0.1:50051 &
    python3 examples/python_device.py --emulator 127.0.0.1:50051 \
        --from 52.661,-8.6285 --to 52.6725,-8.5715
"""

import argparse
import os
import sys
import tempfile
import time

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto", "proto")
PROTOS = ["mcc/v1/common.proto", "mcc/v1/control.proto"]


def generate_stubs(proto_dir, out_dir):
    """Compiles the .proto files into Python modules under out_dir."""
    from grpc_tools import protoc
    import importlib.resources

    # grpcio-tools ships the well-known types; protoc needs their folder.
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    args = ["grpc_tools.protoc", "-I", proto_dir, "-I", well_known,
            "--python_out", out_dir, "--grpc_python_out", out_dir] + PROTOS
    if protoc.main(args) != 0:
        sys.exit(f"python_device: protoc could not compile {PROTOS} from {proto_dir}")


def lat_lon(text):
    """Parses LAT,LON in degrees."""
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LAT,LON (e.g. 52.661,-8.6285)")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(f"{text!r} is off the globe")
    return lat, lon


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emulator", default="127.0.0.1:50051",
                        help="host:port of mcc-emu serve (default 127.0.0.1:50051)")
    parser.add_argument("--token", default=os.environ.get("MCC_EMU_TOKEN"),
                        help="bearer token, if serve was started with --token (default $MCC_EMU_TOKEN)")
    parser.add_argument("--device-id", default=f"python-{os.getpid()}")
    parser.add_argument("--steps", type=int, default=5, help="moves (default 5)")
    parser.add_argument("--from", dest="start", type=lat_lon, metavar="LAT,LON",
                        help="where the device starts (default: the area's south-west corner)")
    parser.add_argument("--to", dest="end", type=lat_lon, metavar="LAT,LON",
                        help="where it ends up (default: the area's north-east corner)")
    parser.add_argument("--cpu-us", type=int, default=2000, help="CPU cost of each request in µs")
    parser.add_argument("--proto-dir", default=PROTO_DIR)
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as e:
        sys.exit(f"python_device: {e}; install them with: python3 -m pip install grpcio grpcio-tools")

    with tempfile.TemporaryDirectory(prefix="mcc-stubs-") as stubs:
        generate_stubs(args.proto_dir, stubs)
        sys.path.insert(0, stubs)
        try:
            run(args)
        finally:
            sys.path.remove(stubs)


def run(args):
    import grpc
    from mcc.v1 import common_pb2, control_pb2, control_pb2_grpc

    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    channel = grpc.insecure_channel(args.emulator)
    stub = control_pb2_grpc.EmulatorControlStub(channel)
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
    except grpc.FutureTimeoutError:
        sys.exit(f"python_device: cannot reach the emulator at {args.emulator}")

    try:
        summary = stub.GetSummary(control_pb2.GetSummaryRequest(), metadata=metadata)
        sw, ne = summary.area.south_west, summary.area.north_east
        print(f"scenario {summary.scenario!r}: {summary.cloudlets} cloudlets, area "
              f"({sw.latitude_deg:.5f}, {sw.longitude_deg:.5f}) to "
              f"({ne.latitude_deg:.5f}, {ne.longitude_deg:.5f})")

        start = args.start or (sw.latitude_deg, sw.longitude_deg)
        end = args.end or (ne.latitude_deg, ne.longitude_deg)

        def point(fraction):
            return common_pb2.GeoPoint(
                latitude_deg=start[0] + fraction * (end[0] - start[0]),
                longitude_deg=start[1] + fraction * (end[1] - start[1]))

        registered = stub.RegisterDevice(
            control_pb2.RegisterDeviceRequest(device_id=args.device_id, position=point(0.0)),
            metadata=metadata)
        print(f"device {args.device_id}: VM {registered.vm_id} on {registered.host_id}, "
              f"access point {registered.access_point_id}")

        for step in range(args.steps):
            fraction = (step + 1) / args.steps
            moved = stub.ReportPosition(
                control_pb2.ReportPositionRequest(device_id=args.device_id, position=point(fraction)),
                metadata=metadata)
            request = control_pb2.DeviceRequest(
                device_id=args.device_id, request_id=step, payload=b"x" * 1024,
                cpu_cost_us=args.cpu_us, response_bytes=512)
            sent = time.perf_counter()
            answer = stub.SendRequest(request, metadata=metadata, timeout=30)
            delay_ms = (time.perf_counter() - sent) * 1e3
            outcome = common_pb2.Outcome.Name(answer.outcome)
            handover = " (hand-over)" if moved.handed_over else ""
            print(f"request {step}: delay {delay_ms:.3f} ms measured, "
                  f"{answer.delay.total_us / 1e3:.3f} ms by the emulator "
                  f"(access {answer.delay.access_us} us, backbone {answer.delay.backbone_us} us, "
                  f"processing {answer.delay.processing_us} us), host {answer.host_id}, "
                  f"{outcome}, access point {moved.access_point_id}{handover}")
    except grpc.RpcError as e:
        sys.exit(f"python_device: the emulator answered {e.code().name}: {e.details()}")
    finally:
        channel.close()


if __name__ == "__main__":
    main()
