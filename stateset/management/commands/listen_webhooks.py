"""`manage.py listen_webhooks --port 8710 --secret whsec_...`: a small receiver for trying webhooks locally.

It verifies each POST's `StateSet-Signature` (stateset.webhooks.verify_signature: HMAC-SHA256 of
`<t>.<body>`, the timestamp within 5 minutes), prints the event, and answers 200, or 400 to a bad signature
(which the sender then retries). Point an endpoint at `http://127.0.0.1:<port>/` (WEBHOOK_ALLOW_PRIVATE)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand

from stateset.webhooks import SIGNATURE_HEADER, TOLERANCE_SECONDS, verify_signature


class Command(BaseCommand):
    help = "Run a local webhook receiver that verifies signatures and prints each event it gets."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8710)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--secret", required=True, help="The endpoint's signing secret (whsec_...).")
        parser.add_argument("--tolerance", type=int, default=TOLERANCE_SECONDS, help="Seconds a timestamp is valid.")

    def handle(self, *args, port, host, secret, tolerance, **options):
        out = self.stdout
        seen: set[str] = set()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get(SIGNATURE_HEADER, "")
                if not verify_signature(header, body, secret, tolerance=tolerance):
                    out.write(f"REFUSED: bad or stale signature ({header[:40]}...)")
                    self.send_response(400)
                    self.end_headers()
                    return
                event = json.loads(body)
                again = " (again: already seen)" if str(event.get("id")) in seen else ""
                seen.add(str(event.get("id")))
                out.write(
                    f"event {event.get('id')} {event.get('type')} {event.get('object_type')} "
                    f"{event.get('object_id')} #{event.get('sequence')}{again}"
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        out.write(f"Listening on http://{host}:{port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
