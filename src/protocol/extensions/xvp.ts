// xvp: asking the server to shut down, reboot or reset the machine it shows (rfbproto "xvp
// Pseudo-encoding", "xvp Server Message", "xvp Client Message").
//
// The client lists -309; a server that can do it answers with xvp server message 250
// (U8 padding, U8 version, U8 code) carrying code 1, XVP_INIT, and the highest version it
// speaks. There is no pseudo-rectangle: rfbproto defines the ack as this message, and QEMU
// ui/vnc.c set_encodings() sends exactly that (only with `-vnc …,power-control=on`). Only
// after XVP_INIT may the client send 250 messages (U8 padding, U8 version 1, U8 code:
// 2 shutdown, 3 reboot, 4 reset; QEMU fails the client on one sent while xvp is off). A
// request the server cannot carry out comes back as code 0, XVP_FAIL — QEMU answers every
// reboot that way, having no clean reboot.

import type { ByteQueue } from "../byte-queue.js";
import { Encoding, ServerMessage } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { Extension, ExtensionHost } from "../extension.js";
import * as msg from "../messages.js";

export type PowerAction = "shutdown" | "reboot" | "reset";

const ACTION_CODES: Readonly<Record<PowerAction, number>> = {
  shutdown: msg.XvpCode.Shutdown,
  reboot: msg.XvpCode.Reboot,
  reset: msg.XvpCode.Reset,
};

/** Server codes (rfbproto "xvp Server Message"). */
const XVP_FAIL = 0;
const XVP_INIT = 1;

/** What the xvp extension tells its owner. */
export interface XvpListener {
  /** The server takes power requests; `version` is the highest it speaks (this client uses 1). */
  xvpAvailable?(version: number): void;
  /** The server could not carry out a power request. */
  powerActionFailed?(): void;
}

export class XvpExtension implements Extension {
  readonly advertisedEncodings: readonly number[] = [Encoding.Xvp];
  readonly messageTypes: readonly number[] = [ServerMessage.Xvp];
  readonly #listener: XvpListener;
  #host: ExtensionHost | null = null;
  #serverVersion = 0;

  constructor(listener: XvpListener = {}) {
    this.#listener = listener;
  }

  /** Whether the server sent XVP_INIT, so `power()` can be used. */
  get available(): boolean {
    return this.#serverVersion > 0;
  }

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  detach(): void {
    this.#host = null;
    this.#serverVersion = 0;
  }

  message(q: ByteQueue): boolean {
    if (!q.has(4)) return false;
    const version = q.peekU8(2);
    const code = q.peekU8(3);
    switch (code) {
      case XVP_INIT:
        if (version === 0)
          throw new ProtocolError("malformed", "the server announced xvp version 0, which does not exist");
        q.skip(4);
        this.#serverVersion = version;
        this.#listener.xvpAvailable?.(version);
        return true;
      case XVP_FAIL:
        q.skip(4);
        this.#listener.powerActionFailed?.();
        return true;
      default:
        throw new ProtocolError("malformed", `the server sent xvp message code ${code}, which does not exist`);
    }
  }

  /** Asks for a power action with xvp version 1. False, sending nothing, before XVP_INIT. */
  power(action: PowerAction): boolean {
    const host = this.#host;
    if (!host || !this.available) return false;
    host.send(msg.xvp(ACTION_CODES[action]));
    return true;
  }
}
