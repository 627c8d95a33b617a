// Byte transport over Gio: TCP (IPv4/IPv6, name resolution by GResolver) or a unix
// socket. Reads arrive on the main loop and go straight to `onData`; writes are queued
// and sent as GLib.Bytes one after another (a Uint8Array handed to write_async can move
// under GC churn in gjs 1.74, measured as "Bad address" errors). Both use plain
// AsyncReadyCallbacks: with a read and a write pending on one socket, promisified calls
// lost a completion now and then in gjs 1.74 (measured in the gateway, src/gateway/pipe.ts). `startTls()` switches an
// open connection to TLS in the middle of the byte stream, as VeNCrypt (rfbproto §7.2.8)
// does after its accept byte.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { ServerAddress } from "../protocol/address.js";
import { formatServerAddress } from "../protocol/address.js";
import { WriteQueue } from "./write-queue.js";

Gio._promisify(Gio.SocketClient.prototype, "connect_async", "connect_finish");

const READ_SIZE = 256 * 1024;

export interface TransportHandler {
  onData(chunk: Uint8Array): void;
  /** The connection ended: `error` is null when the peer closed or reset it. */
  onClosed(error: string | null): void;
}

export class TransportError extends Error {
  override name = "TransportError";
}

function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

/** A peer that closed or reset the connection is an end, not an I/O failure to show raw. */
function isPeerClose(e: unknown): boolean {
  return (
    e instanceof GLib.Error &&
    (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.BROKEN_PIPE) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_CONNECTED))
  );
}

/** Opens a stream connection to `address`; rejects with a TransportError in plain words. */
export async function openConnection(
  address: ServerAddress,
  cancellable: Gio.Cancellable | null = null,
  timeoutSeconds = 15,
): Promise<Gio.SocketConnection> {
  const client = new Gio.SocketClient({ timeout: timeoutSeconds });
  const connectable: Gio.SocketConnectable =
    address.kind === "unix"
      ? Gio.UnixSocketAddress.new(address.path)
      : Gio.NetworkAddress.new(address.host, address.port);
  try {
    const connection = await client.connect_async(connectable, cancellable);
    // GSocketClient's timeout also becomes the socket's I/O timeout; an RFB connection
    // may rightly be idle for hours (a still screen), so it must not outlive the connect.
    connection.get_socket().set_timeout(0);
    return connection;
  } catch (e) {
    throw new TransportError(`cannot connect to ${formatServerAddress(address)}: ${describe(e)}`);
  }
}

/** The server's certificate as the TLS handshake saw it, for a trust decision or a prompt. */
export interface ServerCertificate {
  /** The certificate in PEM form. */
  readonly pem: string;
  /** SHA-256 of the DER encoding as upper-case hex pairs joined by ":", as browsers show it. */
  readonly sha256: string;
  readonly subject: string | null;
  readonly issuer: string | null;
  /** Why validation failed (GTlsCertificateFlags); NO_FLAGS when it did not fail. */
  readonly flags: Gio.TlsCertificateFlags;
  /** The failures in words, e.g. "it is self-signed". */
  readonly problems: readonly string[];
}

export interface TlsOptions {
  /**
   * The host name or IP address the certificate must be issued for; null when there is none
   * (a unix socket), in which case only a pinned certificate can be accepted.
   */
  readonly serverName: string | null;
  /** A PEM file of CA certificates to trust instead of the system's. */
  readonly caFile?: string | null;
  /**
   * A certificate (PEM) the user accepted after seeing its fingerprint in a
   * TlsCertificateError: if verification fails, the connection is still accepted when the
   * server presents exactly this certificate (a viewer's "trust this certificate").
   */
  readonly pinned?: string | null;
}

/** The TLS handshake failed because the server's certificate was not accepted. */
export class TlsCertificateError extends TransportError {
  override name = "TlsCertificateError";

  constructor(
    readonly certificate: ServerCertificate,
    message: string,
  ) {
    super(message);
  }
}

const CERTIFICATE_FLAGS: readonly [Gio.TlsCertificateFlags, string][] = [
  [Gio.TlsCertificateFlags.NOT_ACTIVATED, "it is not valid yet"],
  [Gio.TlsCertificateFlags.EXPIRED, "it has expired"],
  [Gio.TlsCertificateFlags.REVOKED, "it has been revoked"],
  [Gio.TlsCertificateFlags.INSECURE, "it uses an insecure algorithm"],
  [Gio.TlsCertificateFlags.GENERIC_ERROR, "it could not be verified"],
];

function describeCertificate(
  certificate: Gio.TlsCertificate,
  flags: Gio.TlsCertificateFlags,
  options: TlsOptions,
): ServerCertificate {
  // From the PEM text: reading the DER through the GByteArray "certificate" property gave
  // wrong bytes now and then in gjs 1.74 (a fingerprint that did not match openssl's).
  const der = GLib.base64_decode(normalisePem(certificate.certificate_pem));
  const sha256 = (GLib.compute_checksum_for_data(GLib.ChecksumType.SHA256, der) ?? "")
    .toUpperCase()
    .replace(/(..)(?!$)/g, "$1:");
  // subject/issuer names are GLib 2.70+, present in the 2.74 this runs on.
  const subject = certificate.get_subject_name();
  const issuer = certificate.get_issuer_name();
  const problems: string[] = [];
  if (flags & Gio.TlsCertificateFlags.UNKNOWN_CA) {
    if (subject !== null && subject === issuer) problems.push("it is self-signed");
    else if (options.caFile) problems.push(`it is not signed by a CA in ${options.caFile}`);
    else problems.push("it is signed by an authority this computer does not trust");
  }
  if (flags & Gio.TlsCertificateFlags.BAD_IDENTITY)
    problems.push(
      options.serverName === null
        ? "there is no host name to check it against"
        : `it is not issued for “${options.serverName}”`,
    );
  for (const [flag, words] of CERTIFICATE_FLAGS) if (flags & flag) problems.push(words);
  return { pem: certificate.certificate_pem, sha256, subject, issuer, flags, problems };
}

/**
 * The name the certificate is checked against (and sent as SNI). An IP literal is given as
 * an address: as a NetworkAddress, glib-networking 2.74 sends "::1" as an SNI host name,
 * which GnuTLS servers (TigerVNC) reject as "a disallowed SNI server name".
 */
function serverIdentity(name: string | null): Gio.SocketConnectable | null {
  if (name === null) return null;
  return GLib.hostname_is_ip_address(name)
    ? Gio.InetSocketAddress.new_from_string(name, 0)
    : Gio.NetworkAddress.new(name, 0);
}

/**
 * GnuTLS's client connection also implements GDtlsConnection, whose handshake_async
 * shadows GTlsConnection's on the JS object (and wants a callback), so the TLS one is
 * called explicitly.
 */
function handshake(connection: Gio.TlsConnection, cancellable: Gio.Cancellable): Promise<void> {
  const tls = Gio.TlsConnection.prototype;
  return new Promise((resolve, reject) => {
    void tls.handshake_async.call(connection, GLib.PRIORITY_DEFAULT, cancellable, (_source, result) => {
      try {
        tls.handshake_finish.call(connection, result);
        resolve();
      } catch (e) {
        // A GLib.Error as it is (not a JS Error in gjs), so callers can match its domain and code.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(e);
      }
    });
  });
}

/** "a", "a and b", "a, b and c". */
function listing(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1) ?? ""}`;
}

/** PEM text reduced to its base64 body, so line endings and framing do not matter. */
function normalisePem(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
}

/** A failed handshake in one sentence. */
function tlsFailure(e: unknown): string {
  if (isPeerClose(e) || (e instanceof GLib.Error && e.matches(Gio.TlsError, Gio.TlsError.EOF)))
    return "the server closed the connection during the TLS handshake";
  // glib-networking reports a peer that hangs up before finishing (GnuTLS's "premature
  // termination") or answers with something else as NOT_TLS.
  if (e instanceof GLib.Error && e.matches(Gio.TlsError, Gio.TlsError.NOT_TLS))
    return `the server did not complete the TLS handshake: ${describe(e)}`;
  return `the TLS handshake failed: ${describe(e)}`;
}

function isCancelled(e: unknown): boolean {
  return e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
}

/**
 * Pumps a connected IOStream: reads into `handler.onData`, writes what `send()` queues.
 * `startTls()` may replace the stream with a TLS connection over it.
 */
export class Transport {
  #stream: Gio.IOStream;
  #handler: TransportHandler;
  #cancellable = new Gio.Cancellable();
  /** Cancels only the pending read, to stop the read loop for a switch to TLS. */
  #readCancellable = new Gio.Cancellable();
  #reader: Promise<void>;
  #readPaused = false;
  /** Bytes read after reading was paused: unencrypted data where TLS should start. */
  #strayBytes = 0;
  readonly #queue = new WriteQueue();
  /** What send() got during the switch to TLS: it must go through TLS, not before it. */
  readonly #afterTls = new WriteQueue();
  #writer: Promise<void> | null = null;
  #switching = false;
  #tls = false;
  #closed = false;

  constructor(stream: Gio.IOStream, handler: TransportHandler) {
    this.#stream = stream;
    this.#handler = handler;
    this.#reader = this.#readLoop();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the connection runs over TLS now. */
  get tls(): boolean {
    return this.#tls;
  }

  send(data: Uint8Array): void {
    if (this.#closed) return;
    (this.#switching ? this.#afterTls : this.#queue).push(data);
    this.#kickWriter();
  }

  /** Closes without reporting to the handler (the owner decided to close). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancellable.cancel();
    this.#readCancellable.cancel();
    this.#stream.close_async(GLib.PRIORITY_DEFAULT, null, null);
  }

  /**
   * Switches the connection to TLS: stops reading, lets queued writes reach the server,
   * runs the TLS handshake over the same socket and then reads and writes through TLS.
   * Call it when the protocol says the next bytes are TLS records (for VeNCrypt: right
   * after its accept byte, from inside `onData`, so no read is pending and none is lost).
   * Rejects with a TransportError (TlsCertificateError for a refused certificate) in one
   * sentence; the transport is then closed without calling `onClosed`.
   */
  async startTls(options: TlsOptions): Promise<void> {
    if (this.#closed) throw new TransportError("the connection is closed");
    if (this.#tls || this.#switching) throw new TransportError("the connection already uses TLS");
    this.#switching = true;
    this.#readPaused = true;
    // Called from onData (the usual case) no read is pending and the loop ends as soon as
    // onData returns. Otherwise the pending read is cancelled: the server sends nothing
    // before our ClientHello, so there is nothing it could have taken.
    this.#readCancellable.cancel();
    // What is queued goes out in the clear before the handshake starts.
    this.#kickWriter();
    await this.#reader;
    await this.#writer;
    if (this.#isClosed()) throw new TransportError("the connection was closed during the switch to TLS");
    if (this.#strayBytes > 0) {
      this.close();
      throw new TransportError(
        `the server sent ${this.#strayBytes} unencrypted bytes where the TLS handshake should start`,
      );
    }

    let connection: Gio.TlsClientConnection;
    try {
      const identity = serverIdentity(options.serverName);
      connection = Gio.TlsClientConnection.new(this.#stream, identity);
      connection.set_database(
        options.caFile ? Gio.TlsFileDatabase.new(options.caFile) : Gio.TlsBackend.get_default().get_default_database(),
      );
    } catch (e) {
      this.close();
      throw new TransportError(
        options.caFile
          ? `cannot use ${options.caFile} as CA certificates: ${describe(e)}`
          : `cannot start TLS: ${describe(e)}`,
      );
    }
    // accept-certificate is emitted only when verification (chain to a trusted CA, the
    // name, dates) failed; its default answer refuses, failing the handshake with
    // G_TLS_ERROR_BAD_CERTIFICATE. With a pin, the handler accepts exactly that
    // certificate, comparing PEM text only: nothing else runs inside the handshake.
    const pinned = options.pinned ? normalisePem(options.pinned) : null;
    if (pinned !== null)
      connection.connect(
        "accept-certificate",
        (_conn, certificate: Gio.TlsCertificate) => normalisePem(certificate.certificate_pem) === pinned,
      );
    try {
      await handshake(connection, this.#cancellable);
    } catch (e) {
      const wasClosed = this.#isClosed();
      const peer = connection.get_peer_certificate();
      const flags = connection.get_peer_certificate_errors();
      this.close();
      const badCertificate = e instanceof GLib.Error && e.matches(Gio.TlsError, Gio.TlsError.BAD_CERTIFICATE);
      if (peer !== null && flags !== Gio.TlsCertificateFlags.NO_FLAGS && badCertificate) {
        const cert = describeCertificate(peer, flags, options);
        throw new TlsCertificateError(
          cert,
          `the server's certificate is not trusted: ${listing(cert.problems) || "it was refused"}`,
        );
      }
      if (wasClosed || isCancelled(e)) throw new TransportError("the connection was closed during the TLS handshake");
      throw new TransportError(tlsFailure(e));
    }
    if (this.#isClosed()) throw new TransportError("the connection was closed during the TLS handshake");
    this.#stream = connection;
    this.#tls = true;
    this.#switching = false;
    this.#readPaused = false;
    this.#readCancellable = new Gio.Cancellable();
    this.#reader = this.#readLoop();
    this.#queue.append(this.#afterTls);
    this.#kickWriter();
  }

  // Methods, not field reads: the fields change across the awaits above, which the type
  // checker's narrowing does not see.
  #isClosed(): boolean {
    return this.#closed;
  }

  #isReadPaused(): boolean {
    return this.#readPaused;
  }

  #kickWriter(): void {
    if (this.#writer !== null || this.#closed || this.#queue.length === 0) return;
    let finished: () => void = () => undefined;
    this.#writer = new Promise((resolve) => {
      finished = resolve;
    });
    this.#writeNext(this.#stream.get_output_stream(), finished);
  }

  #finish(error: string | null): void {
    if (this.#closed) return;
    this.close();
    this.#handler.onClosed(error);
  }

  /** Reads until paused, closed or failed; the promise settles when no read is pending. */
  #readLoop(): Promise<void> {
    return new Promise((resolve) => {
      const input = this.#stream.get_input_stream();
      const cancellable = this.#readCancellable;
      const next = (): void => {
        if (this.#readPaused || this.#closed) {
          resolve();
          return;
        }
        input.read_bytes_async(READ_SIZE, GLib.PRIORITY_DEFAULT, cancellable, (_source, result) => {
          let chunk: Uint8Array;
          try {
            chunk = input.read_bytes_finish(result).toArray();
          } catch (e) {
            if (!isCancelled(e)) this.#finish(isPeerClose(e) ? null : describe(e));
            resolve();
            return;
          }
          // close() may have run while the read was pending.
          if (this.#closed) {
            resolve();
            return;
          }
          if (this.#readPaused) {
            // A read that completed although a switch to TLS had been asked for.
            this.#strayBytes += chunk.length;
            resolve();
            return;
          }
          if (chunk.length === 0) {
            this.#finish(null);
            resolve();
            return;
          }
          try {
            this.#handler.onData(chunk);
          } catch (e) {
            this.#finish(describe(e));
            resolve();
            return;
          }
          next();
        });
      };
      next();
    });
  }

  /** Writes the queue out, one GLib.Bytes after another, then lets the next writer start. */
  #writeNext(output: Gio.OutputStream, finished: () => void): void {
    const end = () => {
      this.#writer = null;
      finished();
      // Bytes queued after the queue was seen empty (or during a failed write's report).
      this.#kickWriter();
    };
    const chunk = this.#queue.take();
    if (chunk === null || this.#closed) {
      end();
      return;
    }
    const write = (chunk: GLib.Bytes): void => {
      output.write_bytes_async(chunk, GLib.PRIORITY_DEFAULT, this.#cancellable, (_source, result) => {
        let written: number;
        try {
          written = output.write_bytes_finish(result);
        } catch (e) {
          if (!isCancelled(e)) this.#finish(isPeerClose(e) ? null : describe(e));
          end();
          return;
        }
        const size = chunk.get_size();
        if (written < size) write(new GLib.Bytes(chunk.toArray().subarray(written)));
        else this.#writeNext(output, finished);
      });
    };
    write(new GLib.Bytes(chunk));
  }
}
