"""``spikesight devices``: the cameras plugged in, over every installed back end, with the settings
each one's URI takes, and which back ends are missing."""

from __future__ import annotations

import argparse
import json

from .devices import DEFAULT_TIMEOUT_S, scan


def add_devices_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``devices`` command to the ``spikesight`` command's subparsers."""
    sp = subparsers.add_parser("devices", help="list the event cameras plugged in (every installed back end)",
                               description="List the live sources that open_source can open now, with the "
                                           "settings each one's URI takes after '?' (such as "
                                           "prophesee:SERIAL?roi=0,0,640,360&biases=less_sensitive), "
                                           "and the back ends that are missing.")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sp.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                    help=f"how long to wait for a back end to answer (default {DEFAULT_TIMEOUT_S:g})")
    sp.set_defaults(func=cmd_devices)
    return sp


def cmd_devices(args: argparse.Namespace) -> int:
    reports = scan(timeout=args.timeout)
    if args.json:
        print(json.dumps({
            "devices": [{"uri": d.uri, "backend": d.backend, "model": d.model, "serial": d.serial,
                         "options": d.options} for r in reports for d in r.devices],
            "backends": [{"backend": r.backend, "installed": r.installed, "devices": len(r.devices),
                          "note": r.note} for r in reports],
        }, indent=2))
        return 0
    devices = [d for r in reports for d in r.devices]
    if devices:
        rows = [("URI", "BACK END", "MODEL", "SERIAL", "OPTIONS (URI?...)")]
        rows += [(d.uri, d.backend, d.model, d.serial, d.options) for d in devices]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    else:
        print("No camera found.")
    print()
    print("Back ends:")
    width = max(len(r.backend) for r in reports)
    for r in reports:
        state = f"{len(r.devices)} found" if r.devices else r.note
        print(f"  {r.backend.ljust(width)}  {'installed' if r.installed else 'MISSING  '}  {state}")
    return 0
