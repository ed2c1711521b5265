"""Peer for scrape: a multiprocessing.Pool of 8 workers fetches 200 URLs
with urllib from a loopback HTTP server (http.server, threaded) that answers
each after 10 ms; pages per second."""
import json
import multiprocessing as mp
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

URLS = 200
DELAY = 0.010
WORKERS = 8


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(DELAY)
        i = self.path.rsplit("/", 1)[-1]
        body = (f"<!doctype html>\n<html><head><title>Page {i}</title></head>\n"
                f"<body><h1>Page {i}</h1><p>{'word ' * 120}</p></body></html>\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return len(r.read()) if r.status == 200 else -1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else URLS
    ctx = mp.get_context("fork")
    with ctx.Pool(WORKERS) as pool:
        pool.map(abs, range(WORKERS), chunksize=1)  # the workers are up
        # Room for every worker's connection at once (the default queue of 5
        # drops SYNs, which are retried only after a second).
        ThreadingHTTPServer.request_queue_size = 128
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = [f"{base}/delay/{int(DELAY * 1000)}/{i}" for i in range(n)]
        t0 = time.perf_counter()
        sizes = pool.map(fetch, urls, chunksize=1)
        dt = time.perf_counter() - t0
        server.shutdown()
    if any(s <= 0 for s in sizes):
        sys.exit("scrape.py: a page failed")
    print(json.dumps({"system": "python", "workload": "scrape", "metric": "throughput",
                      "value": round(n / dt, 1), "unit": "pages/s",
                      "params": {"urls": n, "delay_ms": int(DELAY * 1000), "workers": WORKERS}}))


if __name__ == "__main__":
    main()
