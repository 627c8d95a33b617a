// A passive observer of one viewer's RFB connection, for porthole-bench display: the
// proxy hands it every chunk in both directions and it counts the FramebufferUpdates the
// server sent. RFB does not delimit its messages, so finding where an update ends means
// decoding it: the server's bytes go through Porthole's own RfbClient, configured exactly
// as the viewer configured the server — its pixel format and its encodings, learnt from
// the viewer's own messages (ClientMessageParser) — with a `send` that goes nowhere.
// Anything the tap cannot follow exactly is a failure, never a guess.
//
// When the tap client is created: at the viewer's first FramebufferUpdateRequest (or
// EnableContinuousUpdates), the first message that makes the server send pixels. By then
// the viewer has said what format and encodings it wants, in whichever order it sends
// them; without a SetPixelFormat the server sends its own format from ServerInit (RFC 6143
// §7.5.1). Until then the server's bytes (handshake, ServerInit) are kept and then fed.
//
// Pure TypeScript: the node specs can drive it with bytes.

import { RfbClient } from "../protocol/client.js";
import { ClientMessageParser, type ParsedClientMessage } from "../protocol/client-messages.js";
import { Encoding, SecurityType } from "../protocol/constants.js";
import type { ImageDecoder } from "../protocol/decoders/decoder.js";
import type { Extension } from "../protocol/extension.js";
import { ExtendedClipboardExtension } from "../protocol/extensions/extended-clipboard.js";
import { FenceExtension } from "../protocol/extensions/fence.js";
import { QemuAudioExtension } from "../protocol/extensions/qemu-audio.js";
import { QemuInputExtension } from "../protocol/extensions/qemu-input.js";
import { XvpExtension } from "../protocol/extensions/xvp.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import type { PixelFormat } from "../protocol/pixel-format.js";
import { securityName } from "../protocol/security.js";
import { StreamsExtension } from "../protocol/streams.js";
import {
  formatVersion,
  negotiateVersion,
  parseVersion,
  type ProtocolVersion,
  VERSION_MESSAGE_LENGTH,
} from "../protocol/version.js";

export class TapError extends Error {
  override name = "TapError";
}

export interface TapListener {
  /** A FramebufferUpdate ended in the server's stream. */
  updateComplete?(): void;
  /** The tap cannot follow the connection (it counts nothing more). */
  failed?(error: TapError): void;
}

function samePixelFormat(a: PixelFormat, b: PixelFormat): boolean {
  return (Object.keys(a) as (keyof PixelFormat)[]).every((k) => a[k] === b[k]);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The extensions the viewer's SetEncodings calls for: the server sends their messages and
 * rectangles only to a client that listed them, and the tap must be able to skip them.
 */
function extensionsFor(encodings: readonly number[]): Extension[] {
  const all: Extension[] = [
    new QemuInputExtension(),
    new XvpExtension(),
    new ExtendedClipboardExtension(),
    new FenceExtension(),
    new QemuAudioExtension(),
    new StreamsExtension(),
  ];
  return all.filter((ext) =>
    [...(ext.pseudoEncodings ?? []), ...(ext.advertisedEncodings ?? [])].some((e) => encodings.includes(e)),
  );
}

export class RfbTap {
  readonly #images: ImageDecoder | null;
  readonly #listener: TapListener;
  readonly #parser = new ClientMessageParser();
  /** The server's bytes until the tap client exists. */
  #pending: Uint8Array[] | null = [];
  #client: RfbClient | null = null;
  #shared = true;
  #pixelFormat: PixelFormat | null = null;
  #encodings: number[] | null = null;
  #failure: TapError | null = null;
  #updates = 0;
  #rects = new Map<number, number>();
  #serverBytes = 0;

  constructor(images: ImageDecoder | null, listener: TapListener = {}) {
    this.#images = images;
    this.#listener = listener;
  }

  /** FramebufferUpdates completed in the server's stream so far. */
  get framebufferUpdates(): number {
    return this.#updates;
  }

  /** Rectangles seen, by encoding number (pseudo-encodings included). */
  get rectsByEncoding(): ReadonlyMap<number, number> {
    return this.#rects;
  }

  /** Bytes the server sent. */
  get serverBytes(): number {
    return this.#serverBytes;
  }

  /** The viewer's SetEncodings list (the last one), or null before it sent one. */
  get encodings(): readonly number[] | null {
    return this.#encodings;
  }

  /** The pixel format the server's rectangles are in, once the tap follows them. */
  get pixelFormat(): PixelFormat | null {
    return this.#client ? this.#pixelFormat : null;
  }

  /** Why the tap stopped following the connection, or null. */
  get failure(): TapError | null {
    return this.#failure;
  }

  /** Bytes the viewer sent to the server. */
  fromClient(chunk: Uint8Array): void {
    if (this.#failure) return;
    try {
      this.#parser.push(chunk);
      for (let m = this.#parser.next(); m !== null && !this.#stopped(); m = this.#parser.next()) this.#clientMessage(m);
    } catch (e) {
      this.#fail(`the viewer's stream does not parse: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Bytes the server sent to the viewer. */
  fromServer(chunk: Uint8Array): void {
    if (this.#failure) return;
    this.#serverBytes += chunk.length;
    const client = this.#client;
    if (client === null) {
      // The caller's chunk may be a view of memory it reuses.
      this.#pending?.push(chunk.slice());
      return;
    }
    client.receive(chunk);
    // rfbproto ExtendedMouseButtons: the viewer may use the 7-byte PointerEvent only after
    // it received the ack, which has then passed through here first.
    this.#parser.extendedMouseButtons = client.acknowledged(Encoding.ExtendedMouseButtons);
  }

  /** A method, so that a failure inside a loop is seen (TypeScript would keep the field narrowed). */
  #stopped(): boolean {
    return this.#failure !== null;
  }

  #fail(message: string): void {
    if (this.#failure) return;
    this.#failure = new TapError(message);
    this.#client?.close();
    this.#pending = null;
    this.#listener.failed?.(this.#failure);
  }

  #clientMessage(m: ParsedClientMessage): void {
    switch (m.type) {
      case "protocol-version":
        this.#checkVersion(m.version);
        return;
      case "security-type":
        // The tap has no credentials and cannot see inside TLS.
        if (m.securityType !== SecurityType.None)
          this.#fail(`the viewer chose ${securityName(m.securityType)}; the tap follows only security type None`);
        return;
      case "client-init":
        this.#shared = m.shared;
        return;
      case "set-pixel-format":
        if (this.#client === null) this.#pixelFormat = m.pixelFormat;
        else if (this.#pixelFormat === null || !samePixelFormat(this.#pixelFormat, m.pixelFormat))
          // Rectangles switch format wherever the server read the message, a point the
          // server's stream does not mark.
          this.#fail("the viewer changed its pixel format during the connection; the tap cannot tell where");
        return;
      case "set-encodings":
        this.#encodings = [...m.encodings];
        // Extensions follow the list as the viewer's own client would (Streams, §2.5).
        this.#client?.setEncodings(m.encodings, false);
        return;
      case "framebuffer-update-request":
      case "enable-continuous-updates":
        if (this.#client === null) this.#start();
        return;
      default:
        return;
    }
  }

  /** The version the viewer answered must be the one Porthole's client answers to this server. */
  #checkVersion(viewer: ProtocolVersion): void {
    // The viewer answers only after the server's ProtocolVersion came through.
    const server = concat(this.#pending ?? []);
    if (server.length < VERSION_MESSAGE_LENGTH) {
      this.#fail("the viewer sent its ProtocolVersion before the server's arrived");
      return;
    }
    let ours: ProtocolVersion;
    try {
      ours = negotiateVersion(parseVersion(server.subarray(0, VERSION_MESSAGE_LENGTH)));
    } catch (e) {
      this.#fail(`the server's ProtocolVersion: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (ours.major !== viewer.major || ours.minor !== viewer.minor) {
      const text = (v: ProtocolVersion) => new TextDecoder().decode(formatVersion(v)).trim();
      this.#fail(`the viewer answered ${text(viewer)} where Porthole's client answers ${text(ours)}`);
    }
  }

  /** The server's own pixel format, from the ServerInit among the kept bytes. */
  #serverPixelFormat(bytes: Uint8Array): PixelFormat | null {
    const found: { format: PixelFormat | null } = { format: null };
    const probe: RfbClient = new RfbClient(
      { framebuffer: new MemoryFramebuffer(), securityTypes: [SecurityType.None], requestUpdates: false },
      {
        send: () => undefined,
        failed: () => undefined,
        connected: (info) => {
          found.format = info.serverPixelFormat;
          // Nothing after ServerInit may be read in the wrong format.
          probe.close();
        },
      },
    );
    probe.receive(bytes);
    probe.close();
    return found.format;
  }

  #start(): void {
    const kept = concat(this.#pending ?? []);
    this.#pending = null;
    const pixelFormat = this.#pixelFormat ?? this.#serverPixelFormat(kept);
    if (pixelFormat === null) {
      this.#fail("the viewer asked for updates before the server's ServerInit came through");
      return;
    }
    this.#pixelFormat = pixelFormat;
    const encodings = this.#encodings ?? [];
    this.#client = new RfbClient(
      {
        framebuffer: new MemoryFramebuffer(),
        pixelFormat,
        encodings,
        shared: this.#shared,
        securityTypes: [SecurityType.None],
        images: this.#images,
        requestUpdates: false,
        extensions: extensionsFor(encodings),
      },
      {
        send: () => undefined,
        failed: (e) => {
          this.#fail(`the server's stream does not parse as the viewer configured it: ${e.message}`);
        },
        rectDecoded: (r) => {
          this.#rects.set(r.encoding, (this.#rects.get(r.encoding) ?? 0) + 1);
        },
        updateComplete: () => {
          this.#updates++;
          this.#listener.updateComplete?.();
        },
      },
    );
    this.#client.receive(kept);
  }
}
