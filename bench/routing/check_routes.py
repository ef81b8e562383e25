#!/usr/bin/env python3
"""Checks bench_routing's output independently of the solver.

For every instance line it re-reads the .vrp file named in "file" with its
own small TSPLIB reader, recomputes each route's cost (EUC_2D: nearest
integer per edge, depot to depot), and checks that the capacity holds on
every route and that every customer is visited exactly once, for both the
solver's routes and Clarke-Wright's ("cw_routes"). With --best-known CSV
(instance,best_known,...) it prints the table of docs/benchmarks.md: gap =
cost / best_known - 1, then the mean and the worst.

    bench_routing FILE.vrp... > run.jsonl
    check_routes.py [--best-known CSV] [--max-mean-gap PCT] [--max-gap PCT] run.jsonl

Exit 0 when everything checks (and the gaps are within the limits given),
1 otherwise, with one line per problem on stderr.
"""
import argparse
import csv
import json
import math
import sys


def read_vrp(path):
    """(capacity, {id: (x, y)}, {id: demand}, depot id) from a TSPLIB file."""
    cap, coords, demand, depots, section = None, {}, {}, [], None
    with open(path) as f:
        for line in f:
            words = line.replace(":", " ").split()
            if not words:
                continue
            if words[0] in ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION"):
                section = words[0]
            elif words[0] == "CAPACITY":
                cap = int(words[1])
            elif words[0] == "EOF":
                break
            elif section == "NODE_COORD_SECTION" and len(words) == 3:
                coords[int(words[0])] = (float(words[1]), float(words[2]))
            elif section == "DEMAND_SECTION" and len(words) == 2:
                demand[int(words[0])] = int(words[1])
            elif section == "DEPOT_SECTION" and words[0] != "-1":
                depots.append(int(words[0]))
    assert cap and len(depots) == 1 and set(coords) == set(demand), path
    return cap, coords, demand, depots[0]


def dist(coords, a, b):
    (xa, ya), (xb, yb) = coords[a], coords[b]
    return int(math.floor(math.sqrt((xa - xb) ** 2 + (ya - yb) ** 2) + 0.5))


def check_plan(label, routes, claimed, vrp):
    """Problems with one plan (empty when it is right)."""
    cap, coords, demand, depot = vrp
    problems, seen, total = [], {}, 0
    for k, route in enumerate(routes):
        if not route:
            problems.append(f"{label}: route {k + 1} is empty")
        load = sum(demand.get(c, 0) for c in route)
        if load > cap:
            problems.append(f"{label}: route {k + 1} carries {load} > capacity {cap}")
        stops = [depot] + route + [depot]
        for c in route:
            if c not in coords or c == depot:
                problems.append(f"{label}: route {k + 1} visits {c}, not a customer")
                return problems
            seen[c] = seen.get(c, 0) + 1
        total += sum(dist(coords, a, b) for a, b in zip(stops, stops[1:]))
    for c in coords:
        if c != depot and seen.get(c, 0) != 1:
            problems.append(f"{label}: customer {c} visited {seen.get(c, 0)} times")
    if total != claimed:
        problems.append(f"{label}: routes cost {total}, the line says {claimed}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="bench_routing output (JSON lines)")
    ap.add_argument("--best-known", help="CSV with instance,best_known")
    ap.add_argument("--max-mean-gap", type=float, help="fail over this mean gap (%%)")
    ap.add_argument("--max-gap", type=float, help="fail over this gap on any instance (%%)")
    args = ap.parse_args()
    best = {}
    if args.best_known:
        with open(args.best_known) as f:
            best = {r["instance"]: int(r["best_known"]) for r in csv.DictReader(f)}
    problems, rows = [], []
    with open(args.run) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    for j in lines:
        if "summary" in j:
            continue
        vrp = read_vrp(j["file"])
        name = j["name"].removesuffix(".vrp")
        problems += check_plan(name, j["routes"], j["cost"], vrp)
        if "max_routes" in j and len(j["routes"]) > j["max_routes"]:
            problems.append(f"{name}: {len(j['routes'])} routes, at most {j['max_routes']}")
        problems += check_plan(name + " (Clarke-Wright)", j["cw_routes"], j["cw_cost"], vrp)
        rows.append((name, j))
    if not rows:
        problems.append("no instance lines")
    if best:
        print("| instance | best-known | ours | gap | routes | ms wall / CPU | Clarke–Wright "
              "| CW gap |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        gaps = []
        for name, j in sorted(rows, key=lambda r: (len(r[0]), r[0])):
            if name not in best:
                problems.append(f"{name}: no best-known cost")
                continue
            b = best[name]
            gap, cw_gap = j["cost"] / b - 1, j["cw_cost"] / b - 1
            gaps.append(gap)
            print(f"| {name} | {b} | {j['cost']} | {100 * gap:.2f} % | {len(j['routes'])} "
                  f"| {j['ms']:.0f} / {j['cpu_ms']:.0f} | {j['cw_cost']} | {100 * cw_gap:.2f} % |")
        if gaps:
            mean, worst = sum(gaps) / len(gaps), max(gaps)
            cw = [j["cw_cost"] / best[n] - 1 for n, j in rows if n in best]
            slowest = max(j["ms"] for _, j in rows)
            print(f"\nmean gap {100 * mean:.2f} %, worst {100 * worst:.2f} % "
                  f"(Clarke–Wright: mean {100 * sum(cw) / len(cw):.2f} %, worst "
                  f"{100 * max(cw):.2f} %), {len(gaps)} instances, slowest {slowest:.0f} ms wall")
            if args.max_mean_gap is not None and 100 * mean > args.max_mean_gap:
                problems.append(f"mean gap {100 * mean:.2f} % over {args.max_mean_gap} %")
            if args.max_gap is not None and 100 * worst > args.max_gap:
                problems.append(f"worst gap {100 * worst:.2f} % over {args.max_gap} %")
    for p in problems:
        print("check_routes:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
