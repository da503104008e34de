"""Warm answer latency through the web app's /ask endpoint, via gradio_client (p50 over 20 questions, then
4 concurrent clients). Start the app first: `.venv/bin/cx-copilot serve --port 7880`, then
`HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 .venv/bin/python benchmarks/app_latency.py http://127.0.0.1:7880/`."""
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from gradio_client import Client
URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7880/"
Q = ["How is NPS calculated?", "What is a customer journey map?", "When should I use CES instead of CSAT?",
     "How do I start a voice of the customer program?", "What is the difference between CSAT and NPS?",
     "What is the difference between CX and customer service?", "What is churn rate?", "How is CLV calculated?",
     "What is first contact resolution?", "What is average handle time?", "What are moments of truth?",
     "What is a persona?", "What is omnichannel customer experience?", "What is sentiment analysis?",
     "What is CX governance?", "What is a CX maturity model?", "What are touchpoints?",
     "What is X-data and O-data?", "How do you close the loop on customer feedback?", "What is the best pizza in Naples?"]
def one(c, q):
    t = time.perf_counter(); c.predict(q, api_name="/ask"); return time.perf_counter() - t
c = Client(URL, verbose=False)
for q in Q[:3]: one(c, q)  # warm
lat = [one(c, q) for q in Q]
print(f"sequential: n={len(lat)} p50={statistics.median(lat)*1000:.0f} ms p90={sorted(lat)[int(.9*len(lat))-1]*1000:.0f} ms max={max(lat)*1000:.0f} ms")
for workers in (4,):
    clients = [Client(URL, verbose=False) for _ in range(workers)]
    def run(i):
        return [one(clients[i], q) for q in Q]
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        res = [x for r in ex.map(run, range(workers)) for x in r]
    wall = time.perf_counter() - t
    print(f"{workers} concurrent clients x {len(Q)} questions: p50={statistics.median(res)*1000:.0f} ms "
          f"p90={sorted(res)[int(.9*len(res))-1]*1000:.0f} ms max={max(res)*1000:.0f} ms, {len(res)/wall:.1f} answers/s")
