// The character devices porthole-bench serial puts behind porthole-gateway (and directly in
// front of itself, for the baselines): a unix stream socket server, one device per process,
// so that the bench, which measures through it, does not carry the device's I/O too. A
// bundle beside the programs (porthole-stream-device.js), without a command of its own.
//
//   echo   every byte a connection sends comes back on it, as soon as it is read;
//   flood  the byte "F" starts writing as fast as the connection takes it, "T" the same
//          with numbered text lines, and "S" stops (other input is ignored); byte n of the
//          counter is n % 251, so a reader can tell that nothing was lost, repeated or
//          reordered (flood.ts). The gateway specs use both devices too.
//   relay  not a device: each connection is relayed, byte for byte both ways, to a new
//          connection to the unix socket TARGET, through the gateway's own I/O layer (two
//          src/gateway/pipe.ts Pipes, the other side's reading paused above the gateway's
//          1 MiB high-water mark) and nothing else: no RFB. What porthole-bench serial
//          measures through it is what moving the bytes costs in this runtime, apart from
//          any protocol work: the most any gateway built on that layer can do.
//
// Prints "ready" on stdout once it listens, then serves until terminated.
//
// Usage: gjs -m porthole-stream-device.js echo|flood SOCKET-PATH|tcp:PORT (on 127.0.0.1)
//        gjs -m porthole-stream-device.js relay SOCKET-PATH TARGET-SOCKET-PATH
//
// Plain callbacks, not promises: with a read and a write pending on one socket, gjs 1.74
// lost promisified completions under this load (src/gateway/pipe.ts). And full collections
// at a steady pace, for the reason src/gateway/gc.ts gives.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { DEFAULT_RELAY_LIMITS } from "../gateway/relay.js";
import { Pipe } from "../gateway/pipe.js";
import { FLOOD_PERIOD, FLOOD_START, FLOOD_STOP, FLOOD_TEXT, floodLine } from "./flood.js";

const CHUNK = 65536;

let churn = 0;
function pace(n: number): void {
  churn += n + 1024;
  if (churn >= 1024 * 1024) {
    churn = 0;
    system.gc();
  }
}

function closer(connection: Gio.SocketConnection): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    connection.close_async(GLib.PRIORITY_DEFAULT, null, null);
  };
}

function echo(connection: Gio.SocketConnection): void {
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const end = closer(connection);
  const write = (bytes: GLib.Bytes): void => {
    output.write_bytes_async(bytes, GLib.PRIORITY_DEFAULT, null, (_o, result) => {
      let n: number;
      try {
        n = output.write_bytes_finish(result);
      } catch {
        end();
        return;
      }
      pace(n);
      const size = bytes.get_size();
      if (n < size) write(bytes.new_from_bytes(n, size - n));
      else read();
    });
  };
  const read = (): void => {
    input.read_bytes_async(CHUNK, GLib.PRIORITY_DEFAULT, null, (_i, result) => {
      let bytes: GLib.Bytes;
      try {
        bytes = input.read_bytes_finish(result);
      } catch {
        end();
        return;
      }
      if (bytes.get_size() === 0) end();
      else write(bytes);
    });
  };
  read();
}

/** FLOOD_PERIOD + CHUNK bytes of the counter: any chunk of the output is a slice of it. */
function floodPattern(): GLib.Bytes {
  const pattern = new Uint8Array(FLOOD_PERIOD + CHUNK);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i % FLOOD_PERIOD;
  return new GLib.Bytes(pattern);
}

/** Text lines for a flood, from line `first` on: about one CHUNK of them. */
function textChunk(first: number): { bytes: GLib.Bytes; lines: number } {
  const lines = Math.ceil(CHUNK / 64);
  let text = "";
  for (let i = 0; i < lines; i++) text += floodLine(first + i);
  return { bytes: new GLib.Bytes(new TextEncoder().encode(text)), lines };
}

function flood(connection: Gio.SocketConnection, pattern: GLib.Bytes): void {
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const end = closer(connection);
  let position = 0;
  let line = 0;
  let flooding: "counter" | "text" | null = null;
  /** What a short write left of a text chunk: it goes first. */
  let rest: GLib.Bytes | null = null;
  let writing = false;
  let over = false;
  const write = (): void => {
    if (over || flooding === null || writing) return;
    writing = true;
    const counter = rest === null && flooding === "counter";
    let bytes: GLib.Bytes;
    if (rest !== null) bytes = rest;
    else if (counter) {
      // A view of the pattern, not a copy: the counter continues at `position`.
      bytes = pattern.new_from_bytes(position % FLOOD_PERIOD, CHUNK);
    } else {
      const next = textChunk(line);
      line += next.lines;
      bytes = next.bytes;
    }
    rest = null;
    output.write_bytes_async(bytes, GLib.PRIORITY_DEFAULT, null, (_o, result) => {
      writing = false;
      let n: number;
      try {
        n = output.write_bytes_finish(result);
      } catch {
        over = true;
        end();
        return;
      }
      if (counter) position += n;
      else if (n < bytes.get_size()) rest = bytes.new_from_bytes(n, bytes.get_size() - n);
      pace(n);
      write();
    });
  };
  const read = (): void => {
    input.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null, (_i, result) => {
      let bytes: GLib.Bytes;
      try {
        bytes = input.read_bytes_finish(result);
      } catch {
        over = true;
        end();
        return;
      }
      if (bytes.get_size() === 0) {
        over = true;
        end();
        return;
      }
      for (const b of bytes.toArray()) {
        if (b === FLOOD_START) flooding = "counter";
        else if (b === FLOOD_TEXT) flooding = "text";
        else if (b === FLOOD_STOP) flooding = null;
      }
      write();
      read();
    });
  };
  read();
}

/** Relays `connection` to a new connection to the unix socket `target`, both ways. */
function relay(connection: Gio.SocketConnection, target: string): void {
  let peer: Gio.SocketConnection;
  try {
    peer = new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(target), null);
  } catch (e) {
    printerr(`porthole-stream-device: cannot reach ${target}: ${e instanceof Error ? e.message : String(e)}`);
    closer(connection)();
    return;
  }
  const { highWater } = DEFAULT_RELAY_LIMITS;
  const pipes: Pipe[] = [];
  const end = (): void => {
    for (const p of pipes) p.close();
  };
  /** A pipe whose input goes to the other one, read only while that one keeps up. */
  const side = (stream: Gio.SocketConnection, other: () => Pipe | undefined): Pipe => {
    const pipe = Pipe.forConnection(stream, {
      data: (chunk) => {
        const to = other();
        to?.send(chunk);
        if (to && to.backlog >= highWater) pipe.pause(true);
      },
      closed: end,
      drained: () => {
        other()?.pause(false);
      },
    });
    return pipe;
  };
  const a = side(connection, () => pipes[1]);
  const b = side(peer, () => pipes[0]);
  pipes.push(a, b);
  a.start();
  b.start();
}

function main(args: readonly string[]): number {
  const [mode, path, ...extra] = args;
  const target = mode === "relay" ? extra.shift() : undefined;
  if (
    (mode !== "echo" && mode !== "flood" && mode !== "relay") ||
    path === undefined ||
    path === "" ||
    extra.length > 0 ||
    (mode === "relay" && (target === undefined || target === "" || path.startsWith("tcp:")))
  ) {
    printerr(
      "usage: porthole-stream-device echo|flood SOCKET-PATH|tcp:PORT\n       porthole-stream-device relay SOCKET-PATH TARGET-SOCKET-PATH",
    );
    return 2;
  }
  const pattern = mode === "flood" ? floodPattern() : null;
  const service = new Gio.SocketService();
  try {
    const address: Gio.SocketAddress = path.startsWith("tcp:")
      ? new Gio.InetSocketAddress({
          address: Gio.InetAddress.new_loopback(Gio.SocketFamily.IPV4),
          port: Number(path.slice(4)),
        })
      : Gio.UnixSocketAddress.new(path);
    service.add_address(address, Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
  } catch (e) {
    printerr(`porthole-stream-device: cannot listen on ${path}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  service.connect("incoming", (_service, connection: Gio.SocketConnection) => {
    if (target !== undefined) relay(connection, target);
    else if (pattern) flood(connection, pattern);
    else echo(connection);
    return true;
  });
  service.start();
  print("ready");
  new GLib.MainLoop(null, false).run();
  return 0;
}

system.exit(main(system.programArgs));
