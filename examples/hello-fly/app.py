"""hello-fly: a tiny HTTP app with a health check and a 'migrate' release command."""
import http.server
import json
import os
import pathlib
import sys

DATA = pathlib.Path(os.environ.get("DATA_DIR", "/data"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok"
        else:
            marker = DATA / "migrated"
            body = json.dumps({"hello": "fly", "migrated": marker.exists()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "migrated").write_text("1")
        print("migrated")
        return
    port = int(os.environ.get("PORT", "8080"))
    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
