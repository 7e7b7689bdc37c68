"""moto's server, answering one request at a time: `python tests/moto_server.py HOST PORT`.

DynamoDB isolates concurrent writes: a transaction beside another either goes through or is
canceled with `TransactionConflict`, and nothing is undone behind anyone's back. moto's
`TransactWriteItems` copies whole tables before it starts and restores the copy when a condition
fails, so under concurrent requests it crashes (500 "dictionary changed size during iteration") or
quietly undoes writes that ran beside it. The tests that write from many tasks at once (20
patients sending WebMail together) need the service's guarantee, so requests are handled one
after another here; moto is bound by one Python interpreter lock anyway, so little is lost.
Each of its transactions still copies the whole table, so a load test runs fewer rounds on moto.
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def serialized(environ, start_response):
        with one_at_a_time:
            # The whole answer is produced inside the lock (moto answers small bodies).
            return list(app(environ, start_response))

    run_simple(host, port, serialized, threaded=True)


if __name__ == "__main__":
    main()
