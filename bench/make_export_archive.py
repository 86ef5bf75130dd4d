#!/usr/bin/env python3
"""Writes an Amplitude Export API archive for `profiled import` benchmarks (bench/import.sh).

    bench/make_export_archive.py OUT.zip [--events 200000] [--users 20000] [--hours 48]

The layout and fields of a real export (reference/amplitude.md 6.2): a zip of
<project>/<project>_<YYYY-MM-DD>_<H>#0.json.gz files, one per upload hour, each gzipped JSON
lines with event_time, $insert_id, amplitude_id, device and location fields, event properties
and the user's properties after the event (a few keys that grow as the user acts). Seeded: the
same file every run.
"""
import argparse
import datetime
import gzip
import json
import random
import zipfile

PROJECT = "187520"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--hours", type=int, default=48)
    args = ap.parse_args()
    rnd = random.Random(20261201)
    start = datetime.datetime(2026, 9, 1, tzinfo=datetime.timezone.utc)
    span = datetime.timedelta(days=60)
    per_hour = (args.events + args.hours - 1) // args.hours
    state = {}
    with zipfile.ZipFile(args.out, "w", zipfile.ZIP_STORED) as z:
        n = 0
        for h in range(args.hours):
            lines = []
            for _ in range(min(per_hour, args.events - n)):
                u = rnd.randrange(args.users)
                t = start + span * (n / args.events)
                props = state.setdefault(u, {"plan": "free", "visits": 0})
                props["visits"] += 1
                if rnd.random() < 0.05:
                    props["plan"] = rnd.choice(["free", "pro", "team"])
                kind = rnd.random()
                event_type = "Play" if kind < 0.6 else ("Purchase" if kind < 0.8 else "Visit")
                ts = t.strftime("%Y-%m-%d %H:%M:%S.%f")
                lines.append(json.dumps({
                    "$insert_id": f"ins-{n}", "amplitude_id": 1000000 + u, "app": int(PROJECT),
                    "app_version": "2.4.1", "city": rnd.choice(["Berlin", "Paris", "Lyon"]),
                    "client_event_time": ts, "client_upload_time": ts, "country": "Germany",
                    "data": {}, "device_brand": "Acme", "device_carrier": "O2",
                    "device_family": "Acme Phone", "device_id": f"device-{u:06d}-{u * 7919 % 100003:05d}",
                    "device_type": "Acme Phone 3", "dma": None, "event_id": n,
                    "event_properties": {"song": f"s{rnd.randrange(500)}", "secs": rnd.randrange(300),
                                         "price": round(rnd.random() * 50, 2)},
                    "event_time": ts, "event_type": event_type, "group_properties": {}, "groups": {},
                    "ip_address": "10.0.0.1", "language": "English", "library": "amplitude-ts/2.4.1",
                    "location_lat": None, "location_lng": None, "os_name": "ios", "os_version": "17.1",
                    "paying": None, "platform": "iOS", "processed_time": ts, "region": "Berlin",
                    "server_received_time": ts, "server_upload_time": ts, "session_id": 1,
                    "user_id": f"user-{u:06d}", "user_properties": dict(props),
                    "uuid": f"uuid-{n}", "version_name": None,
                }, separators=(",", ":")))
                n += 1
            day = (start + datetime.timedelta(hours=h)).strftime("%Y-%m-%d")
            name = f"{PROJECT}/{PROJECT}_{day}_{h % 24}#0.json.gz"
            z.writestr(name, gzip.compress(("\n".join(lines) + "\n").encode(), 6))


if __name__ == "__main__":
    main()
