// VeNCrypt (rfbproto §7.2.8) through the whole RfbClient: every sub-type, the refusals,
// and the two pauses (credentials, TLS), with the server's bytes cut at every point.

import { type ClientHandler, RfbClient } from "../../src/protocol/client.js";
import { SecurityType, VeNCryptSubtype } from "../../src/protocol/constants.js";
import { vncAuthResponse } from "../../src/protocol/des.js";
import type { ProtocolError } from "../../src/protocol/errors.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat } from "../../src/protocol/pixel-format.js";
import { VeNCryptHandshake, type VeNCryptOptions } from "../../src/protocol/vencrypt.js";
import { ascii, splits } from "./helpers.js";

const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const str = (s: string) => [...u32(s.length), ...ascii(s)];
const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));
const serverInit = (w: number, h: number, name: string) => [
  ...u16(w),
  ...u16(h),
  ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
  ...str(name),
];

const { Plain, TLSNone, TLSVnc, TLSPlain, X509None, X509Vnc, X509Plain } = VeNCryptSubtype;

/** The server up to its sub-type list: RFB 3.8, type 19 only, VeNCrypt 0.2 accepted. */
const offer = (...subtypes: number[]) => [
  ...ascii("RFB 003.008\n"),
  1,
  SecurityType.VeNCrypt,
  0,
  2,
  0,
  subtypes.length,
  ...subtypes.flatMap(u32),
];
const OK = [...u32(0), ...serverInit(16, 8, "tls desktop")];
const CHALLENGE = Array.from({ length: 16 }, (_, i) => (i * 37 + 5) & 0xff);

interface Setup {
  readonly vencrypt?: VeNCryptOptions;
  readonly username?: string;
  readonly password?: string;
  /** The handler has no startTls (a platform without TLS). */
  readonly noTls?: boolean;
}

interface Run {
  readonly client: RfbClient;
  readonly events: string[];
  readonly sent: number[];
  error: ProtocolError | null;
  /** Answers a pending pause (credentials or TLS) the way the owner would, later. */
  resume(): void;
}

/** `synchronous`: the owner answers inside the callback; otherwise after the chunk. */
function makeClient(setup: Setup, synchronous: boolean): Run {
  let pending: "tls" | "credentials" | null = null;
  const answer = (what: "tls" | "credentials") => {
    if (what === "tls") client.tlsEstablished();
    else
      client.setCredentials({
        ...(setup.username !== undefined ? { username: setup.username } : {}),
        ...(setup.password !== undefined ? { password: setup.password } : {}),
      });
  };
  const run: Run = {
    get client() {
      return client;
    },
    events: [],
    sent: [],
    error: null,
    resume: () => {
      const what = pending;
      pending = null;
      if (what) answer(what);
    },
  };
  const handler: ClientHandler = {
    send: (d) => run.sent.push(...d),
    failed: (e) => {
      if (run.error) throw new Error("failed twice");
      run.error = e;
    },
    credentialsRequired: (needed) => {
      run.events.push(`credentials username=${needed.username} password=${needed.password}`);
      if (synchronous) answer("credentials");
      else pending = "credentials";
    },
    connected: (info) => run.events.push(`connected ${info.width}x${info.height} "${info.name}"`),
    ...(setup.noTls
      ? {}
      : {
          startTls: (anonymous: boolean) => {
            run.events.push(`start-tls anonymous=${anonymous}`);
            if (synchronous) answer("tls");
            else pending = "tls";
          },
        }),
  };
  const client: RfbClient = new RfbClient(
    {
      framebuffer: new MemoryFramebuffer(),
      securityTypes: [SecurityType.VeNCrypt, SecurityType.VncAuth, SecurityType.None],
      security: { [SecurityType.VeNCrypt]: () => new VeNCryptHandshake(setup.vencrypt) },
    },
    handler,
  );
  return run;
}

/**
 * The server's side as segments, each ending where the client must act (answer TLS or
 * credentials). Every segment is cut at every point (the others fed whole), and the owner
 * answers both inside its callback and after the chunk; the outcome must never differ.
 */
function everySplit(segments: number[][], setup: Setup, check: (r: Run) => void): void {
  segments.forEach((segment, k) => {
    for (const chunks of splits(Uint8Array.from(segment)))
      for (const synchronous of [false, true]) {
        const r = makeClient(setup, synchronous);
        segments.forEach((seg, i) => {
          for (const c of i === k ? chunks : [Uint8Array.from(seg)]) r.client.receive(c);
          r.resume();
        });
        check(r);
      }
  });
}

/** What the client sends up to and including ClientInit. */
const clientSays = (subtype: number, ...auth: number[]) => [
  ...ascii("RFB 003.008\n"),
  SecurityType.VeNCrypt,
  0,
  2,
  ...u32(subtype),
  ...auth,
  1,
];

function expectConnected(r: Run, events: string[], sent: number[]): void {
  expect(r.error).toBeNull();
  expect(r.events).toEqual([...events, 'connected 16x8 "tls desktop"']);
  expect(r.client.state).toBe("normal");
  expect(r.sent.slice(0, sent.length)).toEqual(sent);
}

describe("VeNCrypt", () => {
  it("X509None: TLS with certificates, then nothing more", () => {
    everySplit([[...offer(X509None), 1], OK], {}, (r) => {
      expectConnected(r, ["start-tls anonymous=false"], clientSays(X509None));
    });
  });

  it("X509Vnc: VNC authentication inside TLS, preferred over everything else offered", () => {
    const offered = offer(Plain, TLSNone, TLSVnc, TLSPlain, X509None, X509Plain, X509Vnc);
    const response = Array.from(vncAuthResponse("sesame", Uint8Array.from(CHALLENGE)));
    everySplit([[...offered, 1], CHALLENGE, OK], { password: "sesame" }, (r) => {
      expectConnected(
        r,
        ["start-tls anonymous=false", "credentials username=false password=true"],
        clientSays(X509Vnc, ...response),
      );
    });
  });

  it("X509Plain: sends the UTF-8 user name and password with their byte lengths", () => {
    const user = "jürgen";
    const password = "pässwörd ✓";
    const plain = [...u32(utf8(user).length), ...u32(utf8(password).length), ...utf8(user), ...utf8(password)];
    everySplit([[...offer(X509None, X509Plain), 1], OK], { username: user, password }, (r) => {
      expectConnected(
        r,
        ["start-tls anonymous=false", "credentials username=true password=true"],
        clientSays(X509Plain, ...plain),
      );
    });
  });

  it("prefers X509Plain to X509None, and X509None to anonymous TLS", () => {
    everySplit([[...offer(TLSVnc, X509None), 1], OK], {}, (r) => {
      expectConnected(r, ["start-tls anonymous=false"], clientSays(X509None));
    });
    everySplit([[...offer(X509None, X509Plain), 1], OK], { username: "u", password: "p" }, (r) => {
      expect(r.error).toBeNull();
      expect(r.sent.slice(15, 19)).toEqual(u32(X509Plain));
    });
  });

  it("chooses only among the sub-types it is allowed", () => {
    const setup = { vencrypt: { allowedSubtypes: [X509None] } };
    everySplit([[...offer(X509Vnc, X509None), 1], OK], setup, (r) => {
      expectConnected(r, ["start-tls anonymous=false"], clientSays(X509None));
    });
    everySplit([offer(X509Vnc)], setup, (r) => {
      expect(r.error?.code).toBe("unsupported");
      expect(r.error?.message).toContain("X509Vnc is not enabled");
    });
  });

  it("refuses Plain without TLS by default, before sending anything", () => {
    everySplit([offer(Plain)], { username: "u", password: "p" }, (r) => {
      expect(r.error?.code).toBe("unsupported");
      expect(r.error?.message).toBe(
        "the server offers no usable VeNCrypt sub-type: Plain would send the password unencrypted, which is not allowed",
      );
      expect(r.events).toEqual([]);
      // Version, type 19 and the VeNCrypt version; no choice, no password.
      expect(r.sent).toEqual([...ascii("RFB 003.008\n"), SecurityType.VeNCrypt, 0, 2]);
    });
  });

  it("sends Plain without TLS when allowed to", () => {
    const plain = [...u32(4), ...u32(6), ...ascii("user"), ...ascii("secret")];
    const setup = { vencrypt: { allowPlainWithoutTls: true }, username: "user", password: "secret" };
    everySplit([offer(Plain), OK], setup, (r) => {
      expectConnected(r, ["credentials username=true password=true"], clientSays(Plain, ...plain));
    });
  });

  for (const [subtype, name] of [
    [TLSNone, "TLSNone"],
    [TLSVnc, "TLSVnc"],
    [TLSPlain, "TLSPlain"],
  ] as const) {
    it(`reports anonymous ${name} as unsupported, naming it`, () => {
      everySplit([offer(subtype)], {}, (r) => {
        expect(r.error?.code).toBe("unsupported");
        expect(r.error?.message).toContain(`${name} (anonymous TLS) is unsupported`);
        expect(r.events).toEqual([]);
      });
    });
  }

  it("does anonymous TLS when the platform says it can", () => {
    const response = Array.from(vncAuthResponse("pw", Uint8Array.from(CHALLENGE)));
    const setup = { vencrypt: { anonymousTls: true }, password: "pw" };
    everySplit([[...offer(TLSNone, TLSVnc), 1], CHALLENGE, OK], setup, (r) => {
      expectConnected(
        r,
        ["start-tls anonymous=true", "credentials username=false password=true"],
        clientSays(TLSVnc, ...response),
      );
    });
  });

  it("refuses the TLS sub-types when the connection cannot do TLS", () => {
    everySplit([offer(X509Vnc)], { noTls: true }, (r) => {
      expect(r.error?.code).toBe("unsupported");
      expect(r.error?.message).toContain("X509Vnc needs TLS, which this connection cannot provide");
    });
  });

  it("names sub-types it does not know", () => {
    everySplit([offer(2, 999)], {}, (r) => {
      expect(r.error?.message).toBe(
        "the server offers no usable VeNCrypt sub-type: sub-type 2, sub-type 999 are unknown",
      );
    });
  });

  it("fails when the server offers no sub-type at all", () => {
    everySplit([offer()], {}, (r) => {
      expect(r.error?.message).toBe("the server offers no VeNCrypt sub-types");
    });
  });

  it("reads all 255 sub-types a server may list", () => {
    const many = Array.from({ length: 255 }, (_, i) => (i === 254 ? X509None : 1000 + i));
    everySplit([[...offer(...many), 1], OK], {}, (r) => {
      expectConnected(r, ["start-tls anonymous=false"], clientSays(X509None));
    });
  });

  it("fails when the server refuses version 0.2", () => {
    const bytes = [...ascii("RFB 003.008\n"), 1, SecurityType.VeNCrypt, 0, 2, 1];
    everySplit([bytes], {}, (r) => {
      expect(r.error?.code).toBe("unsupported");
      expect(r.error?.message).toBe("the server refused VeNCrypt version 0.2");
      expect(r.sent.slice(-2)).toEqual([0, 2]);
    });
  });

  it("does not speak VeNCrypt 0.1, and answers 0.2 to a newer server", () => {
    everySplit([[...ascii("RFB 003.008\n"), 1, SecurityType.VeNCrypt, 0, 1]], {}, (r) => {
      expect(r.error?.message).toBe("the server speaks VeNCrypt 0.1, older than the 0.2 this client needs");
      expect(r.sent).toEqual([...ascii("RFB 003.008\n"), SecurityType.VeNCrypt]);
    });
    const newer = [...ascii("RFB 003.008\n"), 1, SecurityType.VeNCrypt, 0, 3, 0, 1, ...u32(X509None), 1];
    everySplit([newer, OK], {}, (r) => {
      expectConnected(r, ["start-tls anonymous=false"], clientSays(X509None));
    });
  });

  it("fails when the server rejects the chosen sub-type", () => {
    everySplit([[...offer(X509Vnc), 0]], {}, (r) => {
      expect(r.error?.code).toBe("unsupported");
      expect(r.error?.message).toBe("the server rejected VeNCrypt sub-type X509Vnc (it could not start TLS)");
      expect(r.events).toEqual([]);
    });
  });

  it("refuses unencrypted bytes where the TLS handshake belongs", () => {
    // In the same chunk as the accept byte, or in a later one while TLS is being set up
    // (the owner has not called tlsEstablished yet).
    for (const chunks of splits(Uint8Array.from([...offer(X509None), 1, 0x16]))) {
      const r = makeClient({}, false);
      for (const c of chunks) r.client.receive(c);
      r.resume();
      expect(r.error?.code).toBe("malformed");
      expect(r.error?.message).toContain("unencrypted data");
      expect(r.client.closed).toBeTrue();
    }
  });

  it("reports a wrong password with the server's reason", () => {
    const refused = [...u32(1), ...str("Authentication failure")];
    everySplit([[...offer(X509Vnc), 1], CHALLENGE, refused], { password: "wrong" }, (r) => {
      expect(r.error?.code).toBe("auth-failed");
      expect(r.error?.message).toBe("authentication failed: Authentication failure");
      expect(r.client.closed).toBeTrue();
    });
  });

  it("pauses for TLS and for credentials, and resumes where it stopped", () => {
    const r = makeClient({ username: "ann", password: "pw" }, false);
    r.client.receive(Uint8Array.from([...offer(X509Plain), 1]));
    expect(r.client.state).toBe("security-paused");
    expect(r.events).toEqual(["start-tls anonymous=false"]);
    const beforeTls = r.sent.length;
    r.client.tlsEstablished();
    // Inside TLS the client needs the user name and password before it can say anything.
    expect(r.client.state).toBe("security-paused");
    expect(r.events).toEqual(["start-tls anonymous=false", "credentials username=true password=true"]);
    expect(r.sent.length).toBe(beforeTls);
    // A second tlsEstablished or stray credentials while not paused change nothing.
    r.client.setCredentials({ username: "ann", password: "pw" });
    expect(r.sent.slice(beforeTls)).toEqual([...u32(3), ...u32(2), ...ascii("ann"), ...ascii("pw")]);
    expect(r.client.state).toBe("security-result");
    r.client.tlsEstablished();
    expect(r.client.state).toBe("security-result");
    r.client.receive(Uint8Array.from(OK));
    expect(r.error).toBeNull();
    expect(r.client.state).toBe("normal");
  });

  it("asks again for credentials when only a password was given to a Plain server", () => {
    const r = makeClient({ password: "pw" }, false);
    r.client.receive(Uint8Array.from([...offer(X509Plain), 1]));
    r.resume(); // TLS is up
    r.resume(); // the password alone: not enough
    expect(r.events).toEqual([
      "start-tls anonymous=false",
      "credentials username=true password=true",
      "credentials username=true password=true",
    ]);
    r.client.setCredentials({ username: "bob" });
    expect(r.client.state).toBe("security-result");
    expect(r.sent.slice(-13)).toEqual([...u32(3), ...u32(2), ...ascii("bob"), ...ascii("pw")]);
  });
});
