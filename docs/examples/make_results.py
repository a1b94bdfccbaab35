"""Writes results.ndjson: the results of the README's tour.

Five minutes of traffic on 2026-11-30 for gpt-4-turbo 1.0.0 (active) and
2.0.0 (its canary), 300 requests each, interleaved: latencies lognormal
around 600 ms, about 1 % of requests rate-limited or failing at the
provider, token counts around 900 in and 120 out. Each line carries the
time of its request (`at`), so the tour judges the same window whenever it
is run. Synthetic and deterministic: `python3 make_results.py` rewrites the
same file.
"""

import json
import math
import random
from datetime import datetime, timedelta, timezone

START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=timezone.utc)
rng = random.Random(14)
with open("results.ndjson", "w") as out:
    for i in range(600):
        version = "1.0.0" if i % 2 == 0 else "2.0.0"
        at = START + timedelta(milliseconds=500 * i)
        line = {
            "modelId": "gpt-4-turbo",
            "version": version,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        roll = rng.random()
        if roll < 0.006:
            line.update(success=False, errorKind="rateLimited", latencyMs=round(rng.uniform(40, 90), 1))
        elif roll < 0.01:
            line.update(success=False, errorKind="serverError", latencyMs=round(rng.uniform(200, 2000), 1))
        else:
            median = 620.0 if version == "1.0.0" else 600.0
            latency = median * math.exp(rng.gauss(0.0, 0.35))
            line.update(
                success=True,
                latencyMs=round(latency, 1),
                inputTokens=int(rng.gauss(900, 120)),
                outputTokens=max(1, int(rng.gauss(120, 30))),
            )
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
