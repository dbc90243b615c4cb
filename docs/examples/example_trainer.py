#!/usr/bin/env python3
"""A minimal trainer for rockd's /ws/trainer stream (docs/protocol.md), with a random policy.

It plays --episodes episodes in groups of --group-size, answers every observation with a random
admissible action, and acknowledges every trajectory. Needs Debian's python3-websockets.

  example_trainer.py --url ws://127.0.0.1:8080/ws/trainer --trainer demo --state-file demo.json

Prints one JSON line on success:
  {"trajectories": K, "episodes": N, "duplicates": 0, "mean_return": x, "steps": s, ...}
and exits non-zero on an unexpected `error` frame, a duplicate or out-of-order trajectory, or
when --timeout seconds pass first.
"""
import argparse, asyncio, json, math, os, random, sys, time

import websockets


class Fail(Exception):
    """Anything the trainer did not expect: it ends the run with exit status 1."""


def load_state(path):
    """The last trajectory seq this trainer processed (0 if none): resume.after_seq."""
    if not path or not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(json.load(f).get("acked_seq", 0))


def save_state(path, seq):
    if path:  # write-then-rename, so a crash never leaves a torn file
        with open(path + ".tmp", "w") as f:
            json.dump({"acked_seq": seq}, f)
        os.replace(path + ".tmp", path)


async def train(args):
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.timeout
    after_seq = load_state(args.state_file)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    # websockets >= 14 renamed extra_headers; Debian 12 ships 10.4.
    hdr_kw = "additional_headers" if int(websockets.__version__.split(".")[0]) >= 14 else "extra_headers"
    started = set()  # episodes our starts began (obs step 0 carrying one of our reqs)
    acts = {}        # episode -> actions sent, to check against the trajectory's steps
    done = {}        # episode -> seq of its trajectory
    last_seq, first_seq, returns, steps = after_seq, None, [], 0
    bye = False      # set once every episode has its trajectory and the final ping is out
    async with websockets.connect(args.url, max_size=64 << 20, open_timeout=args.timeout,
                                  **{hdr_kw: headers}) as ws:
        async def send(**msg):
            await ws.send(json.dumps(msg))

        async def recv():
            left = deadline - time.monotonic()
            try:
                return json.loads(await asyncio.wait_for(ws.recv(), max(left, 0)))
            except asyncio.TimeoutError:
                raise Fail(f"timeout after {args.timeout} s: {len(started)} of {args.episodes} "
                           f"episodes started, {len(done)} trajectories") from None

        # 1. hello must come first. `credits` bounds how many trajectories rockd may send before
        #    we grant more; resume.after_seq says which ones we already have (from a previous run).
        await send(type="hello", trainer=args.trainer, credits=args.credits,
                   resume={"after_seq": after_seq})
        welcome = await recv()
        if welcome.get("type") != "welcome":
            raise Fail(f"expected welcome, got {welcome}")

        # 2. Start the groups at once: each `start` asks for n episodes of one task and seed.
        #    rockd answers each episode's reset with obs{step: 0, req} (req is echoed).
        sizes = [args.group_size] * (args.episodes // args.group_size)
        if args.episodes % args.group_size:
            sizes.append(args.episodes % args.group_size)
        for g, n in enumerate(sizes):
            await send(type="start", req=g, env=args.env, seed=args.seed * 1000 + g, n=n,
                       max_steps=args.max_steps, policy_version=POLICY_VERSION)

        while True:
            msg = await recv()
            kind = msg.get("type")
            if kind == "obs":
                ep = msg["episode"]
                if msg["step"] == 0 and msg.get("req") in range(len(sizes)):
                    started.add(ep)
                if msg["terminated"] or msg["truncated"]:
                    continue  # the episode is over: its trajectory follows
                # The "policy": a uniformly random admissible command. Its log-probability is
                # -log(#choices); a real trainer sends its sampled tokens' log-probs here.
                choices = msg["info"]["admissible_commands"]
                await send(type="act", episode=ep, step=msg["step"] + 1,
                           action=rng.choice(choices), policy_version=POLICY_VERSION,
                           logprobs=-math.log(len(choices)))
                acts[ep] = acts.get(ep, 0) + 1
            elif kind == "trajectory":
                seq, ep = msg["seq"], msg["episode"]
                # Delivery is in seq order and exactly once: a seq we already processed, or an
                # episode seen twice, is a duplicate; a seq going backwards is out of order.
                if seq <= after_seq or ep in done:
                    raise Fail(f"duplicate trajectory seq {seq} episode {ep} (after_seq {after_seq})")
                if seq <= last_seq:
                    raise Fail(f"out-of-order trajectory seq {seq} after seq {last_seq}")
                if ep in acts and len(msg["steps"]) != acts[ep]:
                    raise Fail(f"episode {ep}: {len(msg['steps'])} steps recorded, {acts[ep]} sent")
                done[ep], last_seq = seq, seq
                first_seq = first_seq or seq
                returns.append(msg["return"])
                steps += len(msg["steps"])
                # Processed: remember it for a restart, ack it (cumulative), and grant a credit
                # for the next one, so the number in flight stays at --credits.
                save_state(args.state_file, seq)
                await send(type="ack", seq=seq)
                await send(type="credit", n=1)
            elif kind == "pong" and msg.get("id") == "bye":
                break  # rockd handled everything we sent before the ping (acks included)
            elif kind == "error":
                raise Fail(f"rockd error: {msg}")  # this trainer expects none
            else:
                raise Fail(f"unexpected frame: {msg}")

            # 3. Every episode we started has its trajectory: report progress (shown on the
            #    dashboard), then ping; the pong means the acks above were processed.
            mine = [ep for ep in done if ep in started]
            if not bye and len(started) == args.episodes and len(mine) == args.episodes:
                mean = sum(returns) / len(returns)
                await send(type="report", metrics={"episodes": args.episodes, "mean_return": mean,
                                                   "trajectories": len(done), "steps": steps})
                await send(type="ping", id="bye")
                bye = True

    return {"trajectories": len(done), "episodes": args.episodes, "duplicates": 0,
            "mean_return": sum(returns) / len(returns), "steps": steps,
            "first_seq": first_seq, "last_seq": last_seq}


POLICY_VERSION = 0  # this example never updates its policy


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="ws://HOST:PORT/ws/trainer")
    p.add_argument("--trainer", required=True, help="trainer name (A-Z a-z 0-9 . _ -)")
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--env", default="alfworld")
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--credits", type=int, default=4, help="trajectories in flight at most")
    p.add_argument("--token", help="sent as Authorization: Bearer TOKEN")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--state-file", help="JSON file keeping the last acked seq across runs")
    p.add_argument("--timeout", type=float, default=60, help="seconds for the whole run")
    args = p.parse_args()
    if args.episodes < 1 or args.group_size < 1:
        p.error("--episodes and --group-size must be at least 1")
    try:
        print(json.dumps(asyncio.run(train(args))), flush=True)
    except (Fail, OSError, websockets.WebSocketException, KeyError, TypeError) as e:
        sys.exit(f"example_trainer: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
