#!/usr/bin/env python3
"""SASL-terminating TCP proxy for a Kafka broker that has no usable SASL server
(tansu 0.6.0: its memory:// credential store is a no-op, every SCRAM login ends in
e=unknown-user yet the connection is treated as authenticated, and it has no PLAIN).

  client --(SASL_PLAINTEXT)--> scram_proxy :LISTEN --(PLAINTEXT)--> tansu :UPSTREAM

The proxy answers SaslHandshake (v0/v1) and SaslAuthenticate (v0-v2) itself, verifying
PLAIN and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802/7677) against users given on the command line,
granting --session-lifetime-ms (KIP-368; 0 = none) to each authenticated connection,
forwards ApiVersions to the broker (tansu already advertises api 17 v0-1 and api 36 v0-2),
and after a successful exchange becomes a transparent byte pipe to the broker.
Any other request before authentication closes the connection (as Kafka does).
Wrong password / unknown user -> SaslAuthenticate error_code 58 (SASL_AUTHENTICATION_FAILED).

Start tansu WITHOUT --authentication and with --advertised-listener-url pointing at the port
the clients use (this proxy's port, or the stunnel port in front of it).

usage: scram_proxy.py --listen 127.0.0.1:29106 --upstream 127.0.0.1:29107 \
                      --user alice:secret1 [--user bob:secret2:SCRAM-SHA-512] [--iterations 4096]
Prints "scram_proxy ready" on stdout once listening.
"""
import argparse, asyncio, base64, hashlib, hmac, os, struct, sys

HASH = {'SCRAM-SHA-256': hashlib.sha256, 'SCRAM-SHA-512': hashlib.sha512}
MECHS = list(HASH) + ['PLAIN']
SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS = 17, 36, 18
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58


def derive(password, salt, iterations, mech):
    h = HASH[mech]
    salted = hashlib.pbkdf2_hmac(h().name, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b'Client Key', h).digest()
    return h(client_key).digest(), hmac.new(salted, b'Server Key', h).digest()  # stored_key, server_key


class Creds:
    def __init__(self, users, iterations):
        self.db = {}
        for spec in users:
            parts = spec.split(':')
            name, password = parts[0], parts[1]
            mechs = [m for m in (parts[2:] or MECHS) if m in HASH]
            for m in mechs:
                salt = os.urandom(16)
                self.db[(name, m)] = (salt, iterations) + derive(password, salt, iterations, m)

        self.passwords = {spec.split(':')[0]: spec.split(':')[1] for spec in users}

    def get(self, name, mech):
        return self.db.get((name, mech))


class PlainServer:
    """RFC 4616: one message, authzid NUL authcid NUL password."""
    mech = 'PLAIN'

    def __init__(self, creds):
        self.creds, self.user = creds, None

    def step(self, data):
        try:
            _authzid, user, password = data.decode().split('\0')
        except ValueError:
            return False, b'', 'Authentication failed: malformed PLAIN message', True
        expected = self.creds.passwords.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return False, b'', 'Authentication failed: Invalid username or password', True
        self.user = user
        return True, b'', None, True


class ScramServer:
    def __init__(self, mech, creds):
        self.mech, self.creds, self.h, self.state = mech, creds, HASH[mech], 'first'

    def step(self, data):
        """returns (ok, server_bytes, error_message, done)"""
        try:
            msg = data.decode()
            if self.state == 'first':
                gs2_cb, authzid, bare = msg.split(',', 2)
                if gs2_cb not in ('n', 'y'):
                    return False, b'', 'channel binding not supported', True
                attrs = dict(a.split('=', 1) for a in bare.split(','))
                user = attrs['n'].replace('=2C', ',').replace('=3D', '=')
                cred = self.creds.get(user, self.mech)
                if cred is None:
                    return False, b'', 'Authentication failed during authentication due to invalid credentials with SASL mechanism %s' % self.mech, True
                self.salt, self.iter, self.stored_key, self.server_key = cred
                self.user, self.gs2 = user, gs2_cb + ',' + authzid + ','
                self.nonce = attrs['r'] + base64.b64encode(os.urandom(18)).decode()
                self.client_first_bare = bare
                self.server_first = 'r=%s,s=%s,i=%d' % (self.nonce, base64.b64encode(self.salt).decode(), self.iter)
                self.state = 'final'
                return True, self.server_first.encode(), None, False
            if self.state == 'final':
                without_proof, proof = msg.rsplit(',p=', 1)
                attrs = dict(a.split('=', 1) for a in without_proof.split(','))
                if attrs.get('r') != self.nonce or base64.b64decode(attrs.get('c', '')) != self.gs2.encode():
                    return False, b'', 'Authentication failed: invalid nonce or channel binding', True
                auth_msg = ','.join([self.client_first_bare, self.server_first, without_proof]).encode()
                client_sig = hmac.new(self.stored_key, auth_msg, self.h).digest()
                client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), client_sig))
                self.state = 'done'
                if not hmac.compare_digest(self.h(client_key).digest(), self.stored_key):
                    return False, b'', 'Authentication failed during authentication due to invalid credentials with SASL mechanism %s' % self.mech, True
                server_sig = hmac.new(self.server_key, auth_msg, self.h).digest()
                return True, b'v=' + base64.b64encode(server_sig), None, True
        except Exception as e:  # malformed client message
            return False, b'', 'Authentication failed: malformed SCRAM message (%s)' % e, True
        return False, b'', 'Illegal SASL state', True


def uvarint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def read_uvarint(b, p):
    n = s = 0
    while True:
        x = b[p]; p += 1
        n |= (x & 0x7f) << s; s += 7
        if not x & 0x80:
            return n, p


def parse_request(frame):
    api_key, api_version, corr = struct.unpack('>hhi', frame[:8])
    (cid_len,) = struct.unpack('>h', frame[8:10])
    p = 10 + max(cid_len, 0)
    flexible = api_key == SASL_AUTHENTICATE and api_version >= 2
    if flexible:  # request header v2: tagged fields
        ntags, p = read_uvarint(frame, p)
        for _ in range(ntags):
            _, p = read_uvarint(frame, p); ln, p = read_uvarint(frame, p); p += ln
    return api_key, api_version, corr, flexible, frame[p:]


def nstr(s):
    if s is None:
        return struct.pack('>h', -1)
    b = s.encode(); return struct.pack('>h', len(b)) + b


async def read_frame(reader):
    (n,) = struct.unpack('>i', await reader.readexactly(4))
    return await reader.readexactly(n)


def frame(payload):
    return struct.pack('>i', len(payload)) + payload


class Session:
    def __init__(self, args, creds, cr, cw):
        self.args, self.creds, self.cr, self.cw = args, creds, cr, cw
        self.ur = self.uw = None
        self.peer = cw.get_extra_info('peername')

    def log(self, *a):
        if not self.args.quiet:
            print('[%s:%s]' % self.peer[:2], *a, flush=True)

    async def upstream(self):
        if self.uw is None:
            h, p = self.args.upstream.rsplit(':', 1)
            self.ur, self.uw = await asyncio.open_connection(h, int(p))
        return self.ur, self.uw

    async def run(self):
        scram, v0_mode = None, False
        try:
            while True:
                req = await read_frame(self.cr)
                if v0_mode:  # SaslHandshake v0: raw SASL tokens, no Kafka framing
                    ok, out, err, done = scram.step(req)
                    if not ok:
                        self.log('v0 auth failed:', err); return
                    self.cw.write(frame(out)); await self.cw.drain()
                    if done:
                        self.log('authenticated (v0) as', scram.user, scram.mech); break
                    continue
                api_key, ver, corr, flexible, body = parse_request(req)
                if api_key == API_VERSIONS:
                    ur, uw = await self.upstream()
                    uw.write(frame(req)); await uw.drain()
                    self.cw.write(frame(await read_frame(ur))); await self.cw.drain()
                elif api_key == SASL_HANDSHAKE:
                    (ln,) = struct.unpack('>h', body[:2]); mech = body[2:2 + ln].decode()
                    if mech == 'PLAIN':
                        scram, ec = PlainServer(self.creds), 0
                    elif mech in HASH:
                        scram, ec = ScramServer(mech, self.creds), 0
                    else:
                        scram, ec = None, UNSUPPORTED_SASL_MECHANISM
                    resp = struct.pack('>ihi', corr, ec, len(MECHS)) + b''.join(nstr(m) for m in MECHS)
                    self.cw.write(frame(resp)); await self.cw.drain()
                    self.log('SaslHandshake v%d %s -> %d' % (ver, mech, ec))
                    if ec:
                        return
                    v0_mode = ver == 0
                elif api_key == SASL_AUTHENTICATE:
                    if flexible:
                        ln, p = read_uvarint(body, 0); auth = body[p:p + ln - 1]
                    else:
                        (ln,) = struct.unpack('>i', body[:4]); auth = body[4:4 + ln]
                    if scram is None:
                        ok, out, err, done = False, b'', 'Illegal SASL state', True
                        ec = ILLEGAL_SASL_STATE
                    else:
                        ok, out, err, done = scram.step(auth)
                        ec = 0 if ok else SASL_AUTHENTICATION_FAILED
                    lifetime = self.args.session_lifetime_ms if ok and done else 0
                    if flexible:
                        msg = uvarint(0) if err is None else uvarint(len(err.encode()) + 1) + err.encode()
                        resp = struct.pack('>i', corr) + b'\x00' + struct.pack('>h', ec) + msg + \
                            uvarint(len(out) + 1) + out + struct.pack('>q', lifetime) + b'\x00'
                    else:
                        resp = struct.pack('>ih', corr, ec) + nstr(err) + struct.pack('>i', len(out)) + out
                        if ver >= 1:
                            resp += struct.pack('>q', lifetime)
                    self.cw.write(frame(resp)); await self.cw.drain()
                    if not ok:
                        self.log('SaslAuthenticate v%d failed: %s' % (ver, err)); return
                    if done:
                        print('authenticated as %s %s' % (scram.user, scram.mech), flush=True); break
                else:
                    self.log('api_key %d before authentication -> closing' % api_key); return
            # authenticated: transparent pipe; like Kafka (KIP-368), bytes sent after
            # the session expired close the connection.
            ur, uw = await self.upstream()
            lifetime = self.args.session_lifetime_ms
            expires = asyncio.get_running_loop().time() + lifetime / 1000.0

            async def pipe(r, w, check_expiry=False):
                try:
                    while True:
                        d = await r.read(65536)
                        if not d:
                            break
                        if check_expiry and lifetime and asyncio.get_running_loop().time() > expires:
                            print('session expired: closing', flush=True)
                            break
                        w.write(d); await w.drain()
                finally:
                    w.close()
            await asyncio.gather(pipe(self.cr, uw, True), pipe(ur, self.cw), return_exceptions=True)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.cw.close()
            if self.uw:
                self.uw.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', required=True)
    ap.add_argument('--upstream', required=True)
    ap.add_argument('--user', action='append', default=[], help='name:password[:MECH...]')
    ap.add_argument('--iterations', type=int, default=4096)
    ap.add_argument('--quiet', action='store_true')
    ap.add_argument('--session-lifetime-ms', type=int, default=0)
    args = ap.parse_args()
    creds = Creds(args.user, args.iterations)
    h, p = args.listen.rsplit(':', 1)
    server = await asyncio.start_server(lambda r, w: Session(args, creds, r, w).run(), h, int(p))
    print('scram_proxy ready on %s -> %s users=%s' % (args.listen, args.upstream, sorted({k[0] for k in creds.db})), flush=True)
    async with server:
        await server.serve_forever()

if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
