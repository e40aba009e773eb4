#!/usr/bin/python3
"""The two hosted apps of tests/e2e/test_proxy_origin_browser.sh, as plain
loopback servers behind nginx (proxy-gen routes status keys, whatever
listens on the leased port):

    apps.py VICTIM_PORT HOSTILE_PORT

VICTIM (B, a Jupyter-like app): /login sets its session cookie and /secret
answers the secret only to a request that carries it.  The app learns where
it lives from X-Forwarded-Prefix (path mode), so its cookie is scoped as a
real app scopes it.  HOSTILE (A): /hostile.html?target=URL tries to read
URL with the visitor's cookies (fetch with credentials, and an iframe's
document) and leaves what it got in window.klangkResult.
"""
import http.server
import sys
import threading

SECRET = "s3cret-of-b"

HOSTILE = """<!doctype html><title>A</title><script>
(async () => {
  const target = new URLSearchParams(location.search).get('target');
  const r = {};
  // Where the page is, for the driver's message should it never finish.
  window.klangkStep = 'fetch';
  try {
    const res = await fetch(target, {credentials: 'include'});
    r.fetch = 'status ' + res.status + ': ' + (await res.text());
  } catch (e) { r.fetch = 'error: ' + e; }
  window.klangkStep = 'iframe';
  await new Promise((done) => {
    const f = document.createElement('iframe');
    // A frame whose load never completes tells nothing about the
    // same-origin policy; after 10 s it is recorded as such, so that the
    // driver reports it instead of timing out blind.
    const timer = setTimeout(() => { r.iframe = 'no load event'; done(); }, 10000);
    f.onload = () => {
      clearTimeout(timer);
      // A cross-origin frame's document is null to its parent.
      try {
        const d = f.contentDocument;
        r.iframe = d ? 'read: ' + d.body.innerText : 'no access';
      } catch (e) { r.iframe = 'error: ' + e.name; }
      done();
    };
    f.src = target;
    // The parser may not have made <body> yet when a fetch fails at once
    // (the script runs in <head>); the root element always exists.
    (document.body || document.documentElement).appendChild(f);
  });
  window.klangkResult = r;
})();
</script>"""


class Victim(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        prefix = self.headers.get("X-Forwarded-Prefix", "")
        path = self.path.split("?")[0]
        if path.endswith("/login"):
            self.reply(200, "signed in", [("Set-Cookie", "b_token=%s; Path=%s/" %
                                           (SECRET, prefix))])
        elif path.endswith("/secret"):
            if ("b_token=" + SECRET) in self.headers.get("Cookie", ""):
                self.reply(200, "SECRET=" + SECRET)
            else:
                self.reply(403, "no session")
        else:
            self.reply(404, "not found")

    def reply(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Hostile(Victim):
    def do_GET(self):
        if self.path.split("?")[0].endswith("/hostile.html"):
            data = HOSTILE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.reply(404, "not found")


def main():
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Victim),
               http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Hostile)]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
