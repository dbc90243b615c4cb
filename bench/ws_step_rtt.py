#!/usr/bin/env python3
"""Step round trip through rockd's /ws/trainer from Python (Debian's python3-websockets).

One ALFWorld episode at a time: each obs is answered at once with a random admissible action,
and the time from sending the act to receiving its obs is recorded. Prints one JSON object:
{"steps_per_s", "episodes_per_s", "p50_us", "p99_us", "steps"}. Run by build/bin/episode_bench.
"""
import argparse
import asyncio
import json
import random
import time

import websockets


async def measure(url: str, seconds: float) -> dict:
    latencies, episodes = [], 0
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "trainer": "bench-python", "credits": 1 << 30}))
        json.loads(await ws.recv())  # welcome
        rng = random.Random(7)
        seed = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            seed += 1
            await ws.send(json.dumps({"type": "start", "env": "alfworld", "seed": seed, "max_steps": 30}))
            obs = json.loads(await ws.recv())
            while not (obs["terminated"] or obs["truncated"]) and time.perf_counter() < deadline:
                commands = obs["info"]["admissible_commands"] or ["look"]
                act = {"type": "act", "episode": obs["episode"], "step": obs["step"] + 1,
                       "action": rng.choice(commands)}
                began = time.perf_counter()
                await ws.send(json.dumps(act))
                obs = json.loads(await ws.recv())
                latencies.append((time.perf_counter() - began) * 1e6)
            if obs["terminated"] or obs["truncated"]:
                trajectory = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "ack", "seq": trajectory["seq"]}))
                episodes += 1
            else:
                await ws.send(json.dumps({"type": "cancel", "episode": obs["episode"]}))
    latencies.sort()
    pick = lambda q: latencies[int(q * (len(latencies) - 1))] if latencies else 0
    return {"steps_per_s": len(latencies) / seconds, "episodes_per_s": episodes / seconds,
            "p50_us": pick(0.5), "p99_us": pick(0.99), "steps": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.url, args.seconds))))


if __name__ == "__main__":
    main()
