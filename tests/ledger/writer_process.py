"""A writer process for concurrency and crash tests (``python -m tests.ledger.writer_process``).

Arguments: URL SEED_HEX THREADS COMMANDS EVENTS_PER_COMMAND. Each thread saves
COMMANDS notes of EVENTS_PER_COMMAND events, signed with the given key.
Prints "ready" once the ledger is open, so a crash test can time its kill.
"""

from __future__ import annotations

import sys
import threading

from ledger.chain.signing import Ed25519Signer
from ledger.services.application import open_ledger
from tests.helpers import Note


def main() -> None:
    url, seed_hex, threads, commands, events = sys.argv[1:6]
    app = open_ledger(url)
    signer = Ed25519Signer(bytes.fromhex(seed_hex))
    print("ready", flush=True)

    def work() -> None:
        for _ in range(int(commands)):
            note = Note(title="concurrent")
            for i in range(int(events) - 1):
                note.write(f"line {i}")
            app.save(note, signer=signer)

    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    app.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
