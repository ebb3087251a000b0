#!/usr/bin/python3
"""Cold start of keywardd on an existing database (bench/run): starts
KEYWARDD ARGS... on a free port and prints the milliseconds from the exec
to the first 200 answer to GET /healthz, then stops it. Polls a fresh
connection every 0.5 ms; the exec's own time is counted.
Usage: cold_start.py KEYWARDD ARG..."""
import http.client, signal, socket, subprocess, sys, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    argv = sys.argv[1:] + ["--listen", f"127.0.0.1:{port}"]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.monotonic() - start < 10:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    print(f"{(time.monotonic() - start) * 1000:.1f}")
                    return 0
            except OSError:
                pass
            if proc.poll() is not None:
                sys.stderr.write("cold_start: keywardd exited: " + proc.stderr.read().decode()[-500:])
                return 1
            time.sleep(0.0005)
        sys.stderr.write("cold_start: no answer within 10 s\n")
        return 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
