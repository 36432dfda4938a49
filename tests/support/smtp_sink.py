#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): every accepted message is written to DIR as
one .eml file, atomically, before the server answers 250. Recipients listed in REJECT
(comma-separated) are refused with a permanent 550. Usage: smtp_sink.py PORT DIR [REJECT]"""
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, reject):
        self.out = out
        self.reject = reject
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        name = os.path.join(self.out, "%d-%06d.eml" % (time.time_ns(), self.n))
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        return "250 OK"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    reject = set(a.lower() for a in sys.argv[3].split(",")) if len(sys.argv) > 3 else set()
    os.makedirs(out, exist_ok=True)
    c = Controller(Sink(out, reject), hostname="127.0.0.1", port=port)
    c.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    c.stop()


if __name__ == "__main__":
    main()
