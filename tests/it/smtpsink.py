"""A small SMTP server on loopback for tests: records every message it accepts, and can be told
to refuse them (451 transient, 554 permanent) at the end of DATA. Speaks just enough ESMTP for
libcurl (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); it does not offer STARTTLS, so carnetd's
default "try" goes on in clear text.

SmtpSink(stall=30) is a mail server that has stalled: it accepts each connection and says
nothing for that many seconds (or until closed), counting the connections it holds."""
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def _say(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        sink = self.server.sink
        mail_from, rcpt = None, []
        if sink.stall:
            with sink.lock:
                sink.stalled += 1
            sink.closing.wait(sink.stall)
            return
        self._say("220 sink.test ESMTP test sink")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-sink.test")
                self._say("250-8BITMIME")
                self._say("250 SIZE 10485760")
            elif verb == "HELO":
                self._say("250 sink.test")
            elif verb == "MAIL":
                mail_from, rcpt = cmd[len("MAIL FROM:"):].strip(), []
                self._say("250 ok")
            elif verb == "RCPT":
                rcpt.append(cmd[len("RCPT TO:"):].strip())
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    l = self.rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    lines.append(l[1:] if l.startswith(b"..") else l)
                data = b"".join(lines)
                code = sink.next_code()
                with sink.lock:
                    sink.attempts.append({"from": mail_from, "to": list(rcpt), "data": data,
                                          "code": code})
                    if code == 250:
                        sink.messages.append({"from": mail_from, "to": list(rcpt), "data": data})
                self._say({250: "250 queued", 451: "451 try again later",
                           554: "554 rejected for policy reasons"}.get(code, "%d no" % code))
            elif verb in ("RSET", "NOOP"):
                self._say("250 ok")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 5.5.1 unrecognised command")  # RFC 5321 code for an unknown verb


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    def __init__(self, stall=0):
        self.lock = threading.Lock()
        self.stall = stall       # seconds each connection waits before the greeting; 0: none
        self.stalled = 0         # connections accepted in stall mode
        self.closing = threading.Event()
        self.messages = []
        self.attempts = []
        self.codes = []      # answers for the next messages, then `default`
        self.default = 250
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.sink = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def next_code(self):
        with self.lock:
            return self.codes.pop(0) if self.codes else self.default

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
