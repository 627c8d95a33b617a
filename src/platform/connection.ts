// One RFB connection end to end: the Gio transport, the sans-IO client, the switch to TLS
// that VeNCrypt asks for, credentials. Programs (the viewer, porthole-capture,
// porthole-console) hand it an address and listen; every way it can end — a refused
// login, an untrusted certificate, a dead server, bad input — arrives once, as `failed`.

import Gio from "gi://Gio";

import type { ServerAddress } from "../protocol/address.js";
import { type ClientHandler, type ClientOptions, type Credentials, RfbClient } from "../protocol/client.js";
import { SecurityType } from "../protocol/constants.js";
import { VeNCryptHandshake } from "../protocol/vencrypt.js";
import { gdkImageDecoder } from "./images.js";
import { openConnection, Transport } from "./transport.js";

export interface ConnectionOptions extends Omit<ClientOptions, "security" | "images"> {
  readonly address: ServerAddress;
  /** CA certificates (PEM file) to check a VeNCrypt X509 server against instead of the system's. */
  readonly caFile?: string | null;
  /** A server certificate (PEM) the user accepted: see TlsOptions.pinned. */
  readonly pinned?: string | null;
  /** Seconds to wait for the TCP or unix connection. */
  readonly connectTimeout?: number;
}

/** The client's events, less what the connection handles itself. */
export interface ConnectionEvents extends Omit<ClientHandler, "send" | "failed" | "startTls" | "credentialsRequired"> {
  /** The connection is over; `error` says why (a TlsCertificateError carries the certificate). */
  failed(error: Error): void;
  /** The server wants credentials: answer with `connection.setCredentials()` or `close()`. */
  credentialsRequired?(needed: { username: boolean; password: boolean }): void;
}

/** VeNCrypt first: with its X509 sub-types it is the only type that encrypts anything. */
export const DEFAULT_SECURITY_TYPES: readonly number[] = [
  SecurityType.VeNCrypt,
  SecurityType.VncAuth,
  SecurityType.None,
];

export class VncConnection {
  readonly client: RfbClient;
  #options: ConnectionOptions;
  #events: ConnectionEvents;
  #transport: Transport | null = null;
  #cancellable = new Gio.Cancellable();
  #over = false;

  constructor(options: ConnectionOptions, events: ConnectionEvents) {
    this.#options = options;
    this.#events = events;
    this.client = new RfbClient(
      {
        ...options,
        securityTypes: options.securityTypes ?? DEFAULT_SECURITY_TYPES,
        security: { [SecurityType.VeNCrypt]: () => new VeNCryptHandshake() },
        images: gdkImageDecoder,
      },
      {
        ...events,
        send: (data) => this.#transport?.send(data),
        failed: (e) => {
          this.#fail(e);
        },
        credentialsRequired: (needed) => {
          if (events.credentialsRequired) events.credentialsRequired(needed);
          else this.#fail(new Error("the server asks for credentials"));
        },
        startTls: (anonymous) => {
          this.#startTls(anonymous);
        },
      },
    );
  }

  /** Whether the connection runs over TLS (VeNCrypt X509). */
  get tls(): boolean {
    return this.#transport?.tls ?? false;
  }

  /** Opens the connection; the outcome arrives as events. */
  connect(): void {
    const { address, connectTimeout } = this.#options;
    openConnection(address, this.#cancellable, connectTimeout ?? 15)
      .then((stream) => {
        if (this.#over) {
          stream.close_async(0, null, null);
          return;
        }
        this.#transport = new Transport(stream, {
          onData: (chunk) => {
            this.client.receive(chunk);
          },
          onClosed: (error) => {
            this.client.transportClosed(error ?? "the server closed the connection");
          },
        });
      })
      .catch((e: unknown) => {
        this.#fail(e instanceof Error ? e : new Error(String(e)));
      });
  }

  setCredentials(credentials: Credentials): void {
    this.client.setCredentials(credentials);
  }

  /** Ends the connection without a `failed` event. */
  close(): void {
    if (this.#over) return;
    this.#over = true;
    this.client.close();
    this.#transport?.close();
    this.#cancellable.cancel();
  }

  #fail(error: Error): void {
    if (this.#over) return;
    this.close();
    this.#events.failed(error);
  }

  #startTls(anonymous: boolean): void {
    const transport = this.#transport;
    // VeNCryptHandshake only asks for certificate-based TLS: Gio has no anonymous TLS.
    if (anonymous || transport === null) {
      this.#fail(new Error("the server requires anonymous TLS, which is not supported"));
      return;
    }
    const { address, caFile, pinned } = this.#options;
    transport
      .startTls({
        serverName: address.kind === "tcp" ? address.host : null,
        caFile: caFile ?? null,
        pinned: pinned ?? null,
      })
      .then(() => {
        this.client.tlsEstablished();
      })
      .catch((e: unknown) => {
        this.#fail(e instanceof Error ? e : new Error(String(e)));
      });
  }
}
